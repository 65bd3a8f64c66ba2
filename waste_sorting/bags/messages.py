"""Build bag messages with the rosbags typestore (no ROS runtime needed to write bags).

The typestore's CDR serializer zeroes alignment padding, so the same content
always gives the same bytes: same seed, same bag.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from waste_sorting import itemlist
from waste_sorting.bags.io import TYPESTORE

_T = TYPESTORE.types


def stamp(t: float) -> Any:
    sec = int(t // 1)
    return _T["builtin_interfaces/msg/Time"](sec=sec, nanosec=min(int(round((t - sec) * 1e9)), 999_999_999))


def header(t: float, frame_id: str) -> Any:
    return _T["std_msgs/msg/Header"](stamp=stamp(t), frame_id=frame_id)


def image(frame: np.ndarray, t: float, frame_id: str = "camera") -> Any:
    h, w = frame.shape[:2]
    return _T["sensor_msgs/msg/Image"](header=header(t, frame_id), height=h, width=w, encoding="bgr8",
                                       is_bigendian=0, step=w * 3,
                                       data=np.ascontiguousarray(frame).reshape(-1))


def camera_info(width: int, height: int, t: float, frame_id: str = "camera") -> Any:
    roi = _T["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
    return _T["sensor_msgs/msg/CameraInfo"](
        header=header(t, frame_id), height=height, width=width, distortion_model="",
        d=np.zeros(0), k=np.zeros(9), r=np.zeros(9), p=np.zeros(12), binning_x=0, binning_y=0, roi=roi)


def joint_state(t: float, position: float, velocity: float, name: str = "belt") -> Any:
    return _T["sensor_msgs/msg/JointState"](header=header(t, ""), name=[name], position=np.array([position]),
                                            velocity=np.array([velocity]), effort=np.zeros(0))


def item_cloud(records: np.ndarray, t: float, frame_id: str = "belt") -> Any:
    fields, step, data = itemlist.encode(records)
    pf = _T["sensor_msgs/msg/PointField"]
    return _T["sensor_msgs/msg/PointCloud2"](
        header=header(t, frame_id), height=1, width=len(records),
        fields=[pf(name=f.name, offset=f.offset, datatype=f.datatype, count=f.count) for f in fields],
        is_bigendian=False, point_step=step, row_step=step * len(records),
        data=np.frombuffer(data, np.uint8), is_dense=True)


def serialize(msg: Any) -> bytes:
    return bytes(TYPESTORE.serialize_cdr(msg, msg.__msgtype__))
