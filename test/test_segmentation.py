import numpy as np
import pytest

from waste_sorting.simulation.belt import BeltSimulator, SimConfig
from waste_sorting.simulation.speed import SpeedProfile
from waste_sorting.vision.segmentation import BeltSegmenter, SegmentationConfig


@pytest.fixture(scope="module")
def sim(demo_images):
    return BeltSimulator(SimConfig(images=demo_images, speed=SpeedProfile.constant(1.0), items_per_second=2.5,
                                   seed=3))


def test_finds_every_item_fully_in_view_at_its_true_position(sim):
    seg = BeltSegmenter()
    checked = 0
    for k in range(30):
        t = 2.0 + k * 0.1
        frame = sim.render(t)
        blobs = [b for b in seg.segment(frame) if not b.touches_edge]
        truth = sim.ground_truth(t)
        inside = truth[(truth["x"] - truth["length"] / 2 > 0.02) &
                       (truth["x"] + truth["length"] / 2 < sim.view_length - 0.02)]
        centres = sim.homography.to_belt(np.array([[b.cx, b.cy] for b in blobs])) if blobs else np.zeros((0, 2))
        for item in inside:
            d = np.hypot(centres[:, 0] - item["x"], centres[:, 1] - item["y"]) if len(centres) else [np.inf]
            assert np.min(d) < 0.02, f"item {item['item_id']} at t={t} not found within 2 cm"
            checked += 1
    assert checked >= 20


def test_touching_items_are_split(demo_images):
    sim = BeltSimulator(SimConfig(images=demo_images, speed=SpeedProfile.constant(1.0), items_per_second=3.0,
                                  touching_p=1.0, seed=5))
    seg = BeltSegmenter(SegmentationConfig(split_touching=True))
    unsplit = BeltSegmenter(SegmentationConfig(split_touching=False))
    more = 0
    for k in range(40):
        frame = sim.render(1.0 + k * 0.1)
        more += len(seg.segment(frame)) > len(unsplit.segment(frame))
    assert more > 0  # the watershed separates at least some touching pairs


def test_rejects_wrong_image_shapes():
    with pytest.raises(ValueError):
        BeltSegmenter().segment(np.zeros((10, 10), np.uint8))
