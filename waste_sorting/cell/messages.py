"""Reading messages by their fields, whoever made them: rclpy's classes (nodes) or rosbags' (bags).

Nothing here imports ROS, so the offline tools read bags with rosbags alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from waste_sorting import itemlist

_CHANNELS = {"bgr8": 3, "rgb8": 3, "mono8": 1, "bgra8": 4, "rgba8": 4}


def to_sec(stamp: Any) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


def image_to_bgr(msg: Any) -> np.ndarray:
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


def cloud_to_items(msg: Any) -> np.ndarray:
    fields = [itemlist.FieldSpec(f.name, f.offset, f.datatype, f.count) for f in msg.fields]
    return itemlist.decode(fields, msg.point_step, msg.width * msg.height, bytes(msg.data), msg.is_bigendian)
