"""Message <-> numpy conversion (replaces cv_bridge, which PyPI does not have for ROS 2)."""

from __future__ import annotations

import functools

import numpy as np
from builtin_interfaces.msg import Time
from sensor_msgs.msg import Image, PointCloud2, PointField
from std_msgs.msg import Header

from waste_sorting import itemlist

_CHANNELS = {"bgr8": 3, "rgb8": 3, "mono8": 1, "bgra8": 4, "rgba8": 4}


def to_sec(stamp: Time) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


def to_stamp(t: float) -> Time:
    sec = int(t // 1)
    return Time(sec=sec, nanosec=min(int(round((t - sec) * 1e9)), 999_999_999))


def image_to_bgr(msg: Image) -> np.ndarray:
    """A BGR uint8 view/copy of an Image or a CompressedImage (JPEG, PNG); ValueError with the reason
    if it cannot be one."""
    if hasattr(msg, "format") and not hasattr(msg, "encoding"):  # sensor_msgs/CompressedImage
        import cv2

        img = cv2.imdecode(np.frombuffer(bytes(msg.data), np.uint8), cv2.IMREAD_COLOR)
        if img is None:
            raise ValueError(f"compressed image ({msg.format!r}) does not decode")
        return img
    if not hasattr(msg, "encoding"):
        raise ValueError(f"a {type(msg).__name__} is not an image")
    enc = msg.encoding.lower()
    if enc not in _CHANNELS:
        raise ValueError(f"unsupported image encoding {msg.encoding!r} (want bgr8, rgb8, mono8, bgra8, rgba8)")
    ch = _CHANNELS[enc]
    h, w, step = msg.height, msg.width, msg.step
    if h == 0 or w == 0:
        raise ValueError(f"empty image ({w}x{h})")
    if step < w * ch:
        raise ValueError(f"image step {step} is smaller than width*channels {w * ch}")
    data = np.frombuffer(msg.data, np.uint8) if not isinstance(msg.data, np.ndarray) else msg.data
    if data.size < h * step:
        raise ValueError(f"image data has {data.size} bytes, expected {h * step} for {w}x{h} {enc}")
    rows = data[: h * step].reshape(h, step)[:, : w * ch]
    img = rows.reshape(h, w, ch) if ch > 1 else rows.reshape(h, w)
    if enc == "bgr8":
        return img
    import cv2

    conv = {"rgb8": cv2.COLOR_RGB2BGR, "mono8": cv2.COLOR_GRAY2BGR, "bgra8": cv2.COLOR_BGRA2BGR,
            "rgba8": cv2.COLOR_RGBA2BGR}[enc]
    return cv2.cvtColor(np.ascontiguousarray(img), conv)


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


def cloud_to_items(msg: PointCloud2) -> np.ndarray:
    fields = [itemlist.FieldSpec(f.name, f.offset, f.datatype, f.count) for f in msg.fields]
    return itemlist.decode(fields, msg.point_step, msg.width * msg.height, bytes(msg.data), msg.is_bigendian)
