"""numpy -> ROS message classes (replaces cv_bridge, which PyPI does not have for ROS 2); the readers,
which need no ROS, are `waste_sorting.cell.messages` and are re-exported here."""

from __future__ import annotations

import functools

import numpy as np
from builtin_interfaces.msg import Time
from sensor_msgs.msg import Image, PointCloud2, PointField
from std_msgs.msg import Header

from waste_sorting import itemlist
from waste_sorting.cell.messages import cloud_to_items, image_to_bgr, to_sec

__all__ = ["bgr_to_image", "cloud_to_items", "image_to_bgr", "items_to_cloud", "to_sec", "to_stamp"]


def to_stamp(t: float) -> Time:
    sec = int(t // 1)
    return Time(sec=sec, nanosec=min(int(round((t - sec) * 1e9)), 999_999_999))


def bgr_to_image(img: np.ndarray, stamp: Time, frame_id: str) -> Image:
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected HxWx3 uint8, got {img.shape} {img.dtype}")
    msg = Image()
    msg.header = Header(stamp=stamp, frame_id=frame_id)
    msg.height, msg.width = img.shape[:2]
    msg.encoding = "bgr8"
    msg.is_bigendian = 0
    msg.step = img.shape[1] * 3
    msg.data = np.ascontiguousarray(img).tobytes()
    return msg


@functools.cache
def _item_point_fields() -> tuple[PointField, ...]:
    """The item list's PointFields, made once: making 31 messages for every cloud took 5x the rest of it."""
    return tuple(PointField(name=f.name, offset=f.offset, datatype=f.datatype, count=f.count)
                 for f in itemlist.ITEM_FIELDS)


def items_to_cloud(records: np.ndarray, stamp: Time, frame_id: str = "belt") -> PointCloud2:
    _, step, data = itemlist.encode(records)
    msg = PointCloud2()
    msg.header = Header(stamp=stamp, frame_id=frame_id)
    msg.height, msg.width = 1, len(records)
    msg.fields = list(_item_point_fields())
    msg.is_bigendian = False
    msg.point_step = step
    msg.row_step = step * len(records)
    msg.data = data
    msg.is_dense = True
    return msg


