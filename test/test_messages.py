"""Image and item-list message conversion (what replaces cv_bridge), including bad input."""

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from sensor_msgs.msg import Image

from waste_sorting import itemlist
from waste_sorting.ros.messages import bgr_to_image, cloud_to_items, image_to_bgr, items_to_cloud, to_sec, to_stamp


def test_image_round_trip_and_other_encodings():
    img = np.random.default_rng(0).integers(0, 255, (5, 7, 3), dtype=np.uint8)
    msg = bgr_to_image(img, Time(sec=3, nanosec=5), "cam")
    np.testing.assert_array_equal(image_to_bgr(msg), img)
    rgb = Image(height=5, width=7, encoding="rgb8", step=21, data=img[..., ::-1].tobytes())
    np.testing.assert_array_equal(image_to_bgr(rgb), img)
    mono = Image(height=2, width=3, encoding="mono8", step=4, data=bytes(range(8)))  # padded rows
    assert image_to_bgr(mono).shape == (2, 3, 3) and image_to_bgr(mono)[1, 0, 0] == 4


@pytest.mark.parametrize("msg, why", [
    (Image(height=2, width=2, encoding="yuv422", step=4, data=bytes(8)), "unsupported image encoding"),
    (Image(height=2, width=2, encoding="bgr8", step=5, data=bytes(12)), "step"),
    (Image(height=2, width=2, encoding="bgr8", step=6, data=bytes(7)), "expected 12"),
    (Image(height=0, width=2, encoding="bgr8", step=6, data=b""), "empty"),
])
def test_malformed_images_get_a_clear_error(msg, why):
    with pytest.raises(ValueError, match=why):
        image_to_bgr(msg)


def test_item_cloud_round_trip_and_stamps():
    rec = itemlist.empty(2)
    rec["x"], rec["item_id"], rec["stamp"] = [0.5, 0.7], [3, 4], 1_700_000_000.25
    msg = items_to_cloud(rec, to_stamp(1_700_000_000.25))
    assert msg.header.frame_id == "belt" and [f.name for f in msg.fields][:3] == ["x", "y", "z"]
    assert cloud_to_items(msg).tobytes() == rec.tobytes()
    assert to_sec(msg.header.stamp) == pytest.approx(1_700_000_000.25)
