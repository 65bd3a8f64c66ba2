"""`waste-sorting replay`: publish a bag into the live ROS graph with its timing and /clock.

Like ``ros2 bag play --clock``: messages go out as the serialized bytes stored
in the bag (any message type, no re-encoding), at their recorded pace scaled
by ``--rate``, and ``/clock`` follows the bag's time so nodes running with
``use_sim_time`` see exactly the recorded timeline. Topics can be renamed
(``--remap /cam/image:=/camera/image_raw``) so bags recorded on other systems
drive the cell.
"""

from __future__ import annotations

import time
from pathlib import Path

from waste_sorting.bags import io as bagio
from waste_sorting.errors import BagError, UsageError

ACK_WAIT_S = 2.0      # at the end, the longest wait for reliable readers to acknowledge what was sent
CLOCK_PERIOD = 0.01  # s of bag time between /clock messages when no message is due


def replay(bag: Path, rate: float = 1.0, loop: bool = False, topics: list[str] | None = None,
           remaps: dict[str, str] | None = None, clock: bool = True, start_delay: float = 2.0) -> int:
    """Publish the bag; returns how many messages were sent."""
    import rclpy
    from rclpy.duration import Duration
    from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy
    from rosgraph_msgs.msg import Clock

    from waste_sorting.ros.messages import to_stamp

    if rate <= 0:
        raise UsageError("--rate must be > 0")
    remaps = remaps or {}
    types = bagio.topics(bag)
    wanted = [t for t in types if not topics or t in topics]
    if not wanted:
        raise BagError(f"{bag}: none of the requested topics; it has {', '.join(sorted(types))}")
    classes = {}
    for t in wanted:
        try:
            classes[t] = bagio.message_class(types[t])
        except ValueError:
            pass
    skipped = [t for t in wanted if t not in classes]
    if skipped:  # as `ros2 bag play` does: say so once and play the rest
        print(f"skipping {', '.join(f'{t} ({types[t]})' for t in skipped)}: message type not installed", flush=True)
    wanted = [t for t in wanted if t in classes]
    if not wanted:
        raise BagError(f"{bag}: no topic of an installed message type to play")
    own_context = not rclpy.ok()
    if own_context:
        rclpy.init()
    node = rclpy.create_node("bag_replay")
    qos = QoSProfile(depth=100, reliability=QoSReliabilityPolicy.RELIABLE,
                     durability=QoSDurabilityPolicy.VOLATILE)
    pubs = {t: node.create_publisher(classes[t], remaps.get(t, t), qos) for t in wanted}
    clock_pub = node.create_publisher(Clock, "/clock", 10) if clock else None
    sent = 0
    try:
        deadline = time.monotonic() + start_delay
        while time.monotonic() < deadline and any(p.get_subscription_count() == 0 for p in pubs.values()):
            time.sleep(0.05)
        time.sleep(0.2)  # matched is not yet ready to receive: give the readers a moment
        while True:
            first_ns: int | None = None
            wall0 = time.monotonic()
            last_clock = None
            for m in bagio.read(bag, wanted):
                if first_ns is None:
                    first_ns = m.t_ns
                bag_t = (m.t_ns - first_ns) / 1e9
                # Keep /clock ticking while we wait for the next message.
                while True:
                    now_bag = (time.monotonic() - wall0) * rate
                    if now_bag >= bag_t:
                        break
                    if clock_pub is not None and (last_clock is None or now_bag - last_clock >= CLOCK_PERIOD):
                        clock_pub.publish(Clock(clock=to_stamp(first_ns / 1e9 + now_bag)))
                        last_clock = now_bag
                    time.sleep(min(bag_t - now_bag, CLOCK_PERIOD) / rate)
                if clock_pub is not None:
                    clock_pub.publish(Clock(clock=to_stamp(m.t_ns / 1e9)))
                    last_clock = bag_t
                pubs[m.topic].publish(m.data)
                sent += 1
            if not loop:
                break
        for pub in pubs.values():  # reliable readers get the last messages before the writer goes
            pub.wait_for_all_acked(Duration(seconds=ACK_WAIT_S))
    finally:
        node.destroy_node()
        if own_context:
            rclpy.shutdown()
    return sent
