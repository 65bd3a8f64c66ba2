"""The four nodes as separate processes over real DDS, simulated camera, emulator on a pty."""

from __future__ import annotations

import time
from collections import defaultdict

import numpy as np
import pytest
import rclpy
from rclpy.node import Node
from sensor_msgs.msg import PointCloud2

from waste_sorting.evaluation.scoring import ExecutedPulse, TruthItem, hits
from waste_sorting.itemlist import ItemStatus
from waste_sorting.protocol.emulator import ControllerEmulator
from waste_sorting.ros.messages import cloud_to_items
from waste_sorting.scheduling.ejection import EjectorGeometry

from cellproc import SIM_CAMERA, spin_for, start_nodes, stop_nodes

pytestmark = pytest.mark.slow


class Listener(Node):
    def __init__(self) -> None:
        super().__init__("test_listener")
        self.truth: dict[int, list[tuple[float, float, np.void]]] = defaultdict(list)
        self.decided: list[np.void] = []
        self.fired: list[np.void] = []
        self.create_subscription(PointCloud2, "sim/ground_truth", self._truth, 50)
        self.create_subscription(PointCloud2, "items/decided", lambda m: self.decided.extend(cloud_to_items(m)), 50)
        self.create_subscription(PointCloud2, "picks/fired", lambda m: self.fired.extend(cloud_to_items(m)), 50)

    def _truth(self, msg: PointCloud2) -> None:
        for rec in cloud_to_items(msg):
            self.truth[int(rec["item_id"])].append((float(rec["stamp"]), float(rec["x"]), rec))


def test_four_nodes_sort_known_items_over_dds(repo, tmp_path):
    emulator = ControllerEmulator()
    port = emulator.start()
    overrides = {
        "camera_driver": [SIM_CAMERA, "sim_seed:=11", "sim_items_per_second:=2.0"],
        "tracker": ["bin_min_confidence:=[0.0, 0.0, 0.0, 0.0, 0.0]"],  # every classified item gets a pick
        "actuator": [f"port:={port}"],
    }
    procs = start_nodes(repo / "config" / "sorting_cell.yaml", overrides, tmp_path)
    rclpy.init()
    listener = Listener()
    try:
        deadline = time.time() + 120
        while time.time() < deadline and len(listener.fired) < 10:
            rclpy.spin_once(listener, timeout_sec=0.1)
            dead = [p.args[2] for p in procs if p.poll() is not None]
            assert not dead, f"node processes died: {dead}; logs in {tmp_path}"
        stop_nodes(procs[:1])  # camera off; let the picks in flight fire
        spin_for(listener, 2.0)
    finally:
        stop_nodes(procs)
        listener.destroy_node()
        rclpy.shutdown()
        emulator.close()
    logs = "\n".join((tmp_path / f"{n}.log").read_text()[-2000:] for n in ("classifier", "actuator"))
    assert len(listener.fired) >= 10, f"too few picks fired:\n{logs}"

    sorted_picks = [r for r in listener.fired if r["status"] == ItemStatus.SORTED]
    assert len(sorted_picks) >= 0.9 * len(listener.fired), "the controller refused picks"
    geom = EjectorGeometry()  # the params file uses the defaults
    truth = []
    for item_id, samples in listener.truth.items():
        t = np.array([s[0] for s in samples])
        x = np.array([s[1] for s in samples])
        r = samples[-1][2]
        truth.append(TruthItem(item_id, int(r["class_id"]), float(r["y"]), float(r["length"]),
                               float(r["width"]), t, x))
    pulses = {p.item_id: p for p in emulator.pulses_snapshot()}
    on_target = right_class = 0
    for pick in sorted_picks:
        # The actuator fired the ejector of the class the tracker decided ...
        assert int(pick["ejector"]) == int(pick["class_id"])  # bin map: class i -> ejector i
        pulse = pulses[int(pick["item_id"])]
        assert pulse.ejector == int(pick["ejector"])
        # ... and the air physically met the item it aimed at (nearest true item at the pick's stamp).
        ex = ExecutedPulse(pulse.ejector, pulse.valve_first, pulse.valve_count, pulse.wall_time,
                           pulse.duration, pulse.item_id)
        aimed = min(truth, key=lambda it: abs(it.x_at(float(pick["stamp"])) - float(pick["x"])) +
                    abs(it.y - float(pick["y"])))
        on_target += hits(ex, aimed, geom, geom.latency)
        right_class += aimed.class_id == int(pick["class_id"])
    print(f"{len(sorted_picks)} picks, {on_target} on target, {right_class} of the right class")
    assert on_target >= 0.9 * len(sorted_picks)
