"""`waste-sorting classify` on real files, with the shipped model."""

import json
import shutil

import pytest

from waste_sorting.cli import main


def test_json_output_format_and_bad_files_do_not_stop_the_batch(tmp_path, demo_images, shipped_model, capsys):
    good = sorted((demo_images / "metal").glob("*.jpg"))[:2] + sorted((demo_images / "paper").glob("*.jpg"))[:1]
    folder = tmp_path / "imgs" / "nested"
    folder.mkdir(parents=True)
    for p in good:
        shutil.copy(p, folder / p.name)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg")
    (folder / "empty.png").write_bytes(b"")
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    code = main(["classify", "--model", str(shipped_model), "--json", str(tmp_path / "imgs"), str(notes)])
    assert code == 0
    results = json.loads(capsys.readouterr().out)
    by_name = {r["path"].rsplit("/", 1)[-1]: r for r in results}
    assert len(results) == 6
    for p in good:
        r = by_name[p.name]
        assert r["label"] in {"cardboard", "glass", "metal", "paper", "plastic", "trash"}
        assert 0.0 < r["confidence"] <= 1.0
        assert "error" not in r
    for bad in ("broken.jpg", "empty.png", "notes.txt"):
        assert "not a readable image" in by_name[bad]["error"]
        assert "label" not in by_name[bad]


def test_plain_output_one_line_per_image(demo_images, shipped_model, capsys):
    code = main(["classify", "--model", str(shipped_model), str(demo_images / "glass")])
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == len(list((demo_images / "glass").glob("*.jpg")))
    assert all(": " in line and line.rsplit(" ", 1)[-1].replace(".", "").isdigit() for line in lines)


def test_all_files_unreadable_exits_nonzero(tmp_path, shipped_model):
    bad = tmp_path / "x.jpg"
    bad.write_bytes(b"nope")
    assert main(["classify", "--model", str(shipped_model), str(bad)]) == 1


def test_photo_aspect_classifies_a_squeezed_file_as_the_photo_it_was(tmp_path, demo_images, shipped_model, capsys):
    import cv2

    photo = cv2.imread(str(sorted((demo_images / "metal").glob("*.jpg"))[0]))
    taken = cv2.resize(photo, (256, 192), interpolation=cv2.INTER_AREA)  # the scene as shot, 4:3
    cv2.imwrite(str(tmp_path / "taken.png"), taken)
    cv2.imwrite(str(tmp_path / "squeezed.png"), cv2.resize(taken, (192, 256), interpolation=cv2.INTER_AREA))

    def run(*args):
        assert main(["classify", "--model", str(shipped_model), "--json", "--top", "6", *args]) == 0
        return {r["path"].rsplit("/", 1)[-1]: r for r in json.loads(capsys.readouterr().out)}

    as_is = run(str(tmp_path / "taken.png"), str(tmp_path / "squeezed.png"))
    restored = run("--photo-aspect", "1.3333", str(tmp_path / "squeezed.png"))["squeezed.png"]
    probs = {name: {t["label"]: t["confidence"] for t in r["top"]} for name, r in as_is.items()}
    restored_probs = {t["label"]: t["confidence"] for t in restored["top"]}
    gap_as_stored = max(abs(probs["squeezed.png"][k] - probs["taken.png"][k]) for k in restored_probs)
    gap_restored = max(abs(restored_probs[k] - probs["taken.png"][k]) for k in restored_probs)
    assert gap_restored < 0.05  # stretched back, the file reads as the photo it was
    assert gap_restored < gap_as_stored
    with pytest.raises(SystemExit) as bad:
        main(["classify", "--photo-aspect", "-1", str(tmp_path / "taken.png")])
    assert bad.value.code == 2
    assert "must be 0 (as stored) or positive" in capsys.readouterr().err
