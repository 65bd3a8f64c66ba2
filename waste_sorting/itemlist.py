"""The item-list record layout and its PointCloud2-style byte encoding.

Every list the cell passes around (detections, tracks, pick requests, fired
picks, ground truth) is an array of ``ITEM_DTYPE`` records, one per item, in
the belt frame (x along travel, y across, metres). On the wire it travels as a
``sensor_msgs/PointCloud2`` whose named fields are exactly this dtype, so RViz,
Foxglove, rosbags and any PointCloud2 reader decode it by field name. This
module is ROS-free; ``waste_sorting.ros.messages`` wraps it into messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

#: PointCloud2 ``PointField`` datatype codes.
INT8, UINT8, INT16, UINT16, INT32, UINT32, FLOAT32, FLOAT64 = range(1, 9)
_DATATYPE_OF = {
    np.dtype("i1"): INT8, np.dtype("u1"): UINT8, np.dtype("<i2"): INT16, np.dtype("<u2"): UINT16,
    np.dtype("<i4"): INT32, np.dtype("<u4"): UINT32, np.dtype("<f4"): FLOAT32, np.dtype("<f8"): FLOAT64,
}
_DTYPE_OF = {v: k for k, v in _DATATYPE_OF.items()}

ITEM_DTYPE = np.dtype([
    ("x", "<f4"),            # belt frame, m, at `stamp` (RViz draws x, y, z)
    ("y", "<f4"),
    ("z", "<f4"),
    ("item_id", "<u4"),      # detections: 0; tracks and picks: the track id
    ("length", "<f4"),       # extent along travel, m
    ("width", "<f4"),        # extent across the belt, m
    ("class_id", "<i4"),     # index into the model's class list; -1 unknown
    ("confidence", "<f4"),   # probability of class_id
    ("stamp", "<f8"),        # capture time (s) of the frame the position refers to
    ("speed", "<f4"),        # belt speed at `stamp`, m/s
    ("ejector", "<i4"),      # pick requests: ejector index; -1 none (residue)
    ("fire_time", "<f8"),    # pick requests: time (s, ROS clock) to open the valves
    ("pulse", "<f4"),        # pick requests: pulse duration, s
    ("valve_first", "<i2"),  # fired: first valve of the bank that opened
    ("valve_count", "<i2"),  # fired: how many valves opened (0: robot pick)
    ("status", "u1"),        # ItemStatus
    ("reason", "u1"),        # MissReason
    ("flags", "u1"),         # ItemFlags bits
    # Appended, so the fields above keep their offsets in recorded bags (absent fields decode to defaults):
    ("class2_id", "<i4"),    # runner-up class; -1 unknown. The tracker fuses sightings from both
    ("confidence2", "<f4"),  # probability of class2_id
])


class ItemFlags:
    TRUNCATED = 1  # detection touches the image border: position and size are partial
    AMENDED = 2    # pick request: replaces this item's earlier request (the plan moved after release)
    BELT_LIKE = 4  # detection mostly a shade of the belt (a stain?): an item seen so is passed as NOT_AN_ITEM


class ItemStatus(IntEnum):
    OBSERVED = 0   # a detection or a live track
    REQUESTED = 1  # pick requested
    SORTED = 2     # pulse/pick acknowledged by the controller
    PASSED = 3     # goes to residue by design (no bin, low confidence)
    MISSED = 4     # should have been sorted but was not; see MissReason


class MissReason(IntEnum):
    NONE = 0
    LOW_CONFIDENCE = 1
    TOO_LATE = 2
    LINK_DOWN = 3
    STOPPED = 4
    EJECTOR_BUSY = 5
    NAK = 6
    LOST = 7
    NO_BIN = 8
    UNCLASSIFIED = 9
    OVERLAP = 10  # the pulse would also blow a neighbour bound elsewhere: one bank cannot separate them
    BIN_CLOSED = 11  # its bin's floor is 1: closed (no floor keeps that bin at its purity target)
    NOT_AN_ITEM = 12  # most of its sightings looked like a shade of the belt (a stain), or it stayed put in the
                      # view while the belt moved (a ghost, glare): not an item


def empty(n: int = 0) -> np.ndarray:
    """n zeroed records with the 'unknown' sentinels set."""
    rec = np.zeros(n, ITEM_DTYPE)
    rec["class_id"] = -1
    rec["class2_id"] = -1
    rec["ejector"] = -1
    return rec


@dataclass(frozen=True)
class FieldSpec:
    name: str
    offset: int
    datatype: int
    count: int = 1


def fields_of(dtype: np.dtype = ITEM_DTYPE) -> list[FieldSpec]:
    out = []
    for name in dtype.names or ():
        sub, offset = dtype.fields[name][:2]
        out.append(FieldSpec(name, offset, _DATATYPE_OF[sub.newbyteorder("<") if sub.byteorder == ">" else sub]))
    return out


ITEM_FIELDS: tuple[FieldSpec, ...] = tuple(fields_of(ITEM_DTYPE))


def encode(records: np.ndarray) -> tuple[list[FieldSpec], int, bytes]:
    """(fields, point_step, data) for a PointCloud2 holding ``records``."""
    records = np.ascontiguousarray(records, dtype=ITEM_DTYPE)
    return list(ITEM_FIELDS), ITEM_DTYPE.itemsize, records.tobytes()


def decode(fields: list[FieldSpec], point_step: int, n_points: int, data: bytes,
           is_bigendian: bool = False) -> np.ndarray:
    """Records from PointCloud2 parts, by field name; absent fields take their defaults.

    Raises ValueError on anything inconsistent (sizes, offsets, types) rather
    than returning garbage.
    """
    if n_points < 0 or point_step <= 0 and n_points > 0:
        raise ValueError(f"bad cloud geometry: {n_points} points of {point_step} bytes")
    if len(data) < n_points * point_step:
        raise ValueError(f"cloud data has {len(data)} bytes, expected {n_points * point_step}")
    out = empty(n_points)
    if n_points == 0:
        return out
    order = ">" if is_bigendian else "<"
    names, formats, offsets = [], [], []
    for f in fields:
        if f.name not in ITEM_DTYPE.names:
            continue
        if f.datatype not in _DTYPE_OF:
            raise ValueError(f"field {f.name!r} has unknown datatype {f.datatype}")
        dt = _DTYPE_OF[f.datatype].newbyteorder(order) if _DTYPE_OF[f.datatype].itemsize > 1 \
            else _DTYPE_OF[f.datatype]
        if f.count != 1 or f.offset < 0 or f.offset + dt.itemsize > point_step:
            raise ValueError(f"field {f.name!r} (offset {f.offset}, count {f.count}) does not fit "
                             f"a {point_step}-byte point")
        names.append(f.name)
        formats.append(dt)
        offsets.append(f.offset)
    if not names:
        raise ValueError("cloud has none of the item-list fields")
    view_dtype = np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": point_step})
    view = np.frombuffer(data, dtype=view_dtype, count=n_points)
    for name in names:
        out[name] = view[name]
    return out
