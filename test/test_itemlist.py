import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from waste_sorting import itemlist
from waste_sorting.itemlist import FLOAT32, FLOAT64, INT32, UINT32, FieldSpec


def sample(n: int = 3) -> np.ndarray:
    rec = itemlist.empty(n)
    rec["x"] = np.linspace(0.1, 0.9, n)
    rec["y"] = -0.05
    rec["item_id"] = np.arange(1, n + 1)
    rec["class_id"] = [2, 0, 5][:n]
    rec["confidence"] = 0.87
    rec["stamp"] = 1_700_000_000.123456789
    rec["fire_time"] = 1_700_000_001.5
    rec["ejector"] = 3
    rec["pulse"] = 0.07
    return rec


def test_round_trip_is_exact():
    rec = sample()
    fields, step, data = itemlist.encode(rec)
    out = itemlist.decode(fields, step, len(rec), data)
    assert out.tobytes() == rec.tobytes()
    assert out["stamp"][0] == rec["stamp"][0]  # float64 keeps nanosecond-scale stamps


def test_layout_is_pinned():
    """Changing the wire layout breaks recorded bags: this test must change with it, on purpose."""
    fields = {f.name: (f.offset, f.datatype) for f in itemlist.fields_of()}
    assert fields["x"] == (0, FLOAT32)
    assert fields["y"] == (4, FLOAT32)
    assert fields["z"] == (8, FLOAT32)
    assert fields["item_id"] == (12, UINT32)
    assert fields["class_id"] == (24, INT32)
    assert fields["stamp"] == (32, FLOAT64)
    assert fields["fire_time"] == (48, FLOAT64)
    assert {"length", "width", "confidence", "ejector", "pulse", "status", "reason", "flags"} <= fields.keys()
    # The runner-up class was appended (session 5): older bags keep their offsets and decode it as unknown.
    assert fields["class2_id"] == (67, INT32)
    assert fields["confidence2"] == (71, FLOAT32)
    assert itemlist.ITEM_DTYPE.itemsize == 75


def test_a_cloud_written_before_the_runner_up_fields_decodes_with_them_unknown():
    old_fields = [f for f in itemlist.fields_of() if f.name not in ("class2_id", "confidence2")]
    rec = sample()
    out = itemlist.decode(old_fields, 67, len(rec), b"".join(r.tobytes()[:67] for r in rec))
    assert (out["class2_id"] == -1).all() and (out["confidence2"] == 0).all()
    assert (out["class_id"] == rec["class_id"]).all() and (out["stamp"] == rec["stamp"]).all()


def test_decodes_foreign_cloud_by_field_name():
    """A cloud from another tool, with fields in another order and padding, decodes by name."""
    dt = np.dtype({"names": ["confidence", "x", "y", "class_id"], "formats": ["<f4", "<f4", "<f4", "<i4"],
                   "offsets": [0, 8, 12, 20], "itemsize": 24})
    raw = np.zeros(2, dt)
    raw["x"], raw["y"], raw["class_id"], raw["confidence"] = [1.0, 2.0], [0.1, 0.2], [4, 1], [0.5, 0.9]
    fields = [FieldSpec("confidence", 0, FLOAT32), FieldSpec("x", 8, FLOAT32), FieldSpec("y", 12, FLOAT32),
              FieldSpec("class_id", 20, INT32), FieldSpec("intensity", 4, FLOAT32)]
    out = itemlist.decode(fields, 24, 2, raw.tobytes())
    assert out["x"].tolist() == [1.0, 2.0]
    assert out["class_id"].tolist() == [4, 1]
    assert out["ejector"].tolist() == [-1, -1]  # absent fields take their defaults


@pytest.mark.parametrize("bad", [
    dict(step=67, n=3, data=b"\0" * 100),                          # too little data
    dict(step=10, n=1, data=b"\0" * 80),                           # field beyond point_step
])
def test_inconsistent_clouds_are_rejected(bad):
    fields, _, _ = itemlist.encode(sample(1))
    with pytest.raises(ValueError):
        itemlist.decode(fields, bad["step"], bad["n"], bad["data"])


def test_unknown_datatype_rejected():
    with pytest.raises(ValueError, match="datatype"):
        itemlist.decode([FieldSpec("x", 0, 99)], 4, 1, b"\0" * 4)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.text(min_size=1, max_size=12), st.integers(-8, 80), st.integers(0, 12)),
                max_size=6),
       st.integers(0, 80), st.integers(0, 5), st.binary(max_size=400))
def test_decoder_never_crashes_on_arbitrary_input(specs, step, n, data):
    fields = [FieldSpec(name, off, dt) for name, off, dt in specs]
    try:
        out = itemlist.decode(fields, step, n, data)
    except ValueError:
        return
    assert len(out) == n and out.dtype == itemlist.ITEM_DTYPE
