"""`bench` runs end to end (figures are printed, never asserted: a loaded machine must not fail CI)."""

import json

from waste_sorting.cli import main


def test_bench_prints_every_backend_and_the_hot_path(tmp_path, shipped_model, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "--seconds", "0.2", "--batch", "1", "--frames", "1", "4", "--stream-frames", "20",
                 "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "onnxruntime-fp32" in text and "hot path" in text
    result = json.loads(out.read_text())
    names = {r["backend"] for r in result["classifier"]}
    assert {"onnxruntime-fp32", "tensorrt"} <= names
    assert [r["items"] for r in result["hot_path"]] == [1, 4]
    assert all(r["found"] == r["items"] for r in result["hot_path"])  # every item segmented
    stream = {r["max_classifications"]: r for r in result["hot_path_stream"]}
    assert set(stream) == {0, 4} and stream[0]["items_per_frame"] > 1
    # The budget classifies fewer crops than classifying every sighting (a count, not a timing).
    assert stream[4]["classified_per_frame"] < stream[0]["classified_per_frame"]
    assert "speed-up of the budget" in text
