"""The actuator node over DDS: an amended pick request moves the pending pulse, nothing fires twice."""

from __future__ import annotations

import time

import numpy as np
import pytest
import rclpy
from sensor_msgs.msg import PointCloud2

from waste_sorting import itemlist
from waste_sorting.itemlist import ItemFlags, ItemStatus
from waste_sorting.protocol.emulator import EmulatorProcess
from waste_sorting.ros.messages import cloud_to_items, items_to_cloud, to_stamp

from cellproc import spin_for, start_nodes, stop_nodes

pytestmark = pytest.mark.slow


def request(item: int, fire_time: float, valve_first: int, amended: bool = False) -> np.ndarray:
    rec = itemlist.empty(1)
    rec["item_id"], rec["ejector"], rec["status"] = item, 1, ItemStatus.REQUESTED
    rec["fire_time"], rec["pulse"], rec["stamp"] = fire_time, 0.03, time.time()
    rec["valve_first"], rec["valve_count"] = valve_first, 3
    rec["flags"] = ItemFlags.AMENDED if amended else 0
    return rec


def test_amended_request_replaces_the_pulse_and_stray_amendments_are_dropped(repo, tmp_path):
    emulator = EmulatorProcess()
    port = emulator.start()
    procs = start_nodes(repo / "config" / "sorting_cell.yaml", {"actuator": [f"port:={port}"]}, tmp_path,
                        only=("actuator",))
    rclpy.init()
    node = rclpy.create_node("tracker_stand_in")
    fired: list = []
    node.create_subscription(PointCloud2, "picks/fired", lambda m: fired.extend(cloud_to_items(m)), 50)
    pub = node.create_publisher(PointCloud2, "picks/requested", 50)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and pub.get_subscription_count() == 0:
            spin_for(node, 0.1)
        assert pub.get_subscription_count() == 1, f"actuator did not come up; log in {tmp_path}"
        spin_for(node, 3.0)  # link up, clock synchronised, controller armed
        t0 = time.time()
        pub.publish(items_to_cloud(request(77, t0 + 1.0, 2), to_stamp(t0)))
        spin_for(node, 0.3)
        # The belt slowed: the tracker re-planned item 77 later and on other valves.
        pub.publish(items_to_cloud(request(77, t0 + 1.2, 6, amended=True), to_stamp(time.time())))
        # An amendment for an item the actuator never sent (its first request was lost): not fired.
        pub.publish(items_to_cloud(request(78, t0 + 1.2, 10, amended=True), to_stamp(time.time())))
        spin_for(node, 1.8 - (time.time() - t0))
    finally:
        stop_nodes(procs)
        node.destroy_node()
        rclpy.shutdown()
        pulses = emulator.stop()
    assert [(int(f["item_id"]), int(f["status"])) for f in fired] == [(77, ItemStatus.SORTED)]  # one record
    assert [(p.item_id, p.ejector, p.valve_first, p.valve_count) for p in pulses] == [(77, 1, 6, 3)]
    assert abs(pulses[0].wall_time - (t0 + 1.2)) < 0.02, pulses[0].wall_time - (t0 + 1.2)
