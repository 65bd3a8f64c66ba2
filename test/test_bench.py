"""`bench` runs end to end (figures are printed, never asserted: a loaded machine must not fail CI)."""

import json

from waste_sorting.cli import main


def test_bench_prints_every_backend_and_the_hot_path(tmp_path, shipped_model, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "--seconds", "0.2", "--batch", "1", "--frames", "1", "4", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "onnxruntime-fp32" in text and "hot path" in text
    result = json.loads(out.read_text())
    names = {r["backend"] for r in result["classifier"]}
    assert {"onnxruntime-fp32", "tensorrt"} <= names
    assert [r["items"] for r in result["hot_path"]] == [1, 4]
    assert all(r["found"] == r["items"] for r in result["hot_path"])  # every item segmented
