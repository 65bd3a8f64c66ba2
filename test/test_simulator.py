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
