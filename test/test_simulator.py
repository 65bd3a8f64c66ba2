"""The simulator forgets pixels of items far downstream, never their ground truth."""

from waste_sorting.evaluation.report import truth_from_sim
from waste_sorting.simulation.belt import BeltSimulator, SimConfig
from waste_sorting.simulation.speed import SpeedProfile


def test_pruned_items_stay_in_the_ground_truth_the_report_uses(demo_images):
    sim = BeltSimulator(SimConfig(images=demo_images, speed=SpeedProfile.constant(2.0), items_per_second=3.0,
                                  seed=2))
    sim.ground_truth(20.0)
    spawned = len(sim.all_items())
    sim.prune(x_max=5.0, t=20.0)  # what a long live run does: items 5 m past the camera stop rendering
    assert sim.retired and len(sim.items) < spawned
    assert len(sim.all_items()) == spawned
    assert all(it.image.size == 0 for it in sim.retired)  # memory stays flat
    truth = truth_from_sim(sim, 0.0, 20.0, step=0.1)
    assert {t.item_id for t in truth} == {it.item_id for it in sim.all_items() if it.spawn_time <= 20.0}
    sim.render(20.0)  # rendering goes on with the remaining items


def _squeezed_lid_folder(root):
    """A round lid shot 4:3 landscape and stored 384 x 512, as TrashNet stores its photos."""
    import cv2
    import numpy as np

    taken = np.full((384, 512, 3), 235, np.uint8)
    cv2.circle(taken, (256, 192), 110, (60, 70, 160), -1)
    (root / "metal").mkdir(parents=True)
    cv2.imwrite(str(root / "metal" / "lid.png"), cv2.resize(taken, (384, 512), interpolation=cv2.INTER_AREA))
    return root


def _sprite_aspect(sim):
    import numpy as np

    ys, xs = np.nonzero(sim.sprites[0].alpha > 0.5)
    return (np.ptp(xs) + 1) / (np.ptp(ys) + 1)


def test_items_ride_the_belt_in_the_shape_they_were_photographed(tmp_path):
    folder = _squeezed_lid_folder(tmp_path / "photos")
    as_taken = BeltSimulator(SimConfig(images=folder))  # default: photos were taken 4:3
    assert abs(_sprite_aspect(as_taken) - 1.0) < 0.05  # round on the belt, as the camera would see it
    as_stored = BeltSimulator(SimConfig(images=folder, photo_aspect=0))
    assert abs(_sprite_aspect(as_stored) - 0.5625) < 0.05  # the stored file's tall ellipse


def test_photo_aspect_restores_shape_and_rejects_nonsense():
    import numpy as np
    import pytest

    from waste_sorting.data.photos import as_taken

    stored = np.zeros((512, 384, 3), np.uint8)
    assert as_taken(stored, 4 / 3).shape == (384, 512, 3)  # longer side kept
    assert as_taken(stored, 0).shape == stored.shape
    assert as_taken(stored, 0.75) is stored  # already in shape: no copy
    with pytest.raises(ValueError, match="photo aspect"):
        as_taken(stored, -1.0)
