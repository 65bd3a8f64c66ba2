"""RViz markers in the belt frame: tracked items, pending pick targets, ejector zones."""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Duration, Time
from geometry_msgs.msg import Point, Vector3
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker, MarkerArray

from waste_sorting.scheduling.ejection import EjectorGeometry

PALETTE = [(0.80, 0.60, 0.35), (0.30, 0.80, 0.40), (0.70, 0.70, 0.75), (0.95, 0.95, 0.95), (0.25, 0.55, 0.95),
           (0.55, 0.35, 0.30)]


def _colour(class_id: int, alpha: float = 0.8) -> ColorRGBA:
    if class_id < 0:
        return ColorRGBA(r=1.0, g=0.3, b=0.3, a=alpha)
    r, g, b = PALETTE[class_id % len(PALETTE)]
    return ColorRGBA(r=r, g=g, b=b, a=alpha)


def cell_markers(tracked: np.ndarray, geometry: EjectorGeometry, classes: list[str], stamp: Time,
                 view_x: tuple[float, float], frame_id: str = "belt") -> MarkerArray:
    out = MarkerArray()
    life = Duration(sec=0, nanosec=300_000_000)
    clear = Marker(action=Marker.DELETEALL)
    clear.header.frame_id = frame_id
    out.markers.append(clear)
    for rec in tracked:
        m = Marker(ns="items", id=int(rec["item_id"]), type=Marker.CUBE, action=Marker.ADD, lifetime=life)
        m.header.frame_id, m.header.stamp = frame_id, stamp
        m.pose.position = Point(x=float(rec["x"]), y=float(rec["y"]), z=0.01)
        m.pose.orientation.w = 1.0
        m.scale = Vector3(x=max(float(rec["length"]), 0.01), y=max(float(rec["width"]), 0.01), z=0.02)
        m.color = _colour(int(rec["class_id"]))
        out.markers.append(m)
        t = Marker(ns="labels", id=int(rec["item_id"]), type=Marker.TEXT_VIEW_FACING, action=Marker.ADD,
                   lifetime=life)
        t.header = m.header
        t.pose.position = Point(x=float(rec["x"]), y=float(rec["y"]), z=0.08)
        t.pose.orientation.w = 1.0
        t.scale.z = 0.04
        cid = int(rec["class_id"])
        name = classes[cid] if 0 <= cid < len(classes) else "?"
        t.text = f"#{int(rec['item_id'])} {name} {float(rec['confidence']):.2f}"
        t.color = ColorRGBA(r=1.0, g=1.0, b=1.0, a=1.0)
        out.markers.append(t)
    lo, hi = geometry.valve_span(0, geometry.valve_count)
    for i, x in enumerate(geometry.x):
        z = Marker(ns="ejectors", id=i, type=Marker.CUBE, action=Marker.ADD)
        z.header.frame_id, z.header.stamp = frame_id, stamp
        z.pose.position = Point(x=float(x), y=(lo + hi) / 2, z=0.0)
        z.pose.orientation.w = 1.0
        z.scale = Vector3(x=0.01, y=hi - lo, z=0.005)
        z.color = ColorRGBA(r=1.0, g=0.8, b=0.0, a=0.9)
        out.markers.append(z)
    view = Marker(ns="camera_view", id=0, type=Marker.LINE_STRIP, action=Marker.ADD)
    view.header.frame_id, view.header.stamp = frame_id, stamp
    view.pose.orientation.w = 1.0
    view.scale.x = 0.005
    view.color = ColorRGBA(r=0.3, g=0.8, b=1.0, a=0.8)
    x0, x1 = view_x
    view.points = [Point(x=x0, y=lo), Point(x=x1, y=lo), Point(x=x1, y=hi), Point(x=x0, y=hi), Point(x=x0, y=lo)]
    out.markers.append(view)
    return out
