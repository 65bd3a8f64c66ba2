"""Patient distillation on a pack, the recipe a lent GPU runs: the views it makes, the pack it reads, a tiny
CPU run that resumes, and the student's parts exported to a model the cell loads."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from waste_sorting.model.augment import AugmentConfig
from waste_sorting.model.batch_views import ImageBank, belt_views

PLAIN = AugmentConfig(belt_p=1.0, rotate=False, scale_range=(1.0, 1.0), shift=0.0, photometric=0.0, hue_deg=0.0,
                      blur_p=0.0, low_res_p=0.0)


def _red_square_bank() -> ImageBank:
    """White photos (BGR) with a red 40 x 40 item whose mask is the square, at a different place in each."""
    images = np.full((2, 120, 160, 3), 255, np.uint8)
    masks = np.zeros((2, 120, 160), np.uint8)
    for i, (x, y) in enumerate([(20, 30), (100, 60)]):
        images[i, y:y + 40, x:x + 40] = (0, 0, 255)
        masks[i, y:y + 40, x:x + 40] = 255
    return ImageBank.from_arrays(images, masks, np.array([0, 1]), "cpu")


def test_an_item_on_the_belt_is_framed_as_the_cell_crops_it_on_the_background():
    bank = _red_square_bank()
    blue = torch.zeros(3, 3, 96, 96, dtype=torch.uint8)
    blue[:, 2] = 200  # RGB: the background is blue, the photo's white board is gone
    views = belt_views(bank, torch.tensor([0, 1]), 50, PLAIN, blue, torch.Generator().manual_seed(0))
    for v in views:
        red = (v[0] > 0.8) & (v[2] < 0.2)
        rows, cols = torch.nonzero(red, as_tuple=True)
        # the node's crop is a square 1.25x the item's side, the item in its middle
        assert 38 <= int(red.sum() ** 0.5) <= 41
        assert abs(float(rows.float().mean()) - 24.5) < 1.5 and abs(float(cols.float().mean()) - 24.5) < 1.5
        assert v[:, 1, 1].tolist() == pytest.approx([0, 0, 200 / 255], abs=0.02)  # a corner: background


def test_a_photo_view_keeps_the_photo_and_jitter_stays_in_range():
    bank = _red_square_bank()
    photo = AugmentConfig(belt_p=0.0, rotate=False, scale_range=(1.0, 1.0), shift=0.0, photometric=0.0, hue_deg=0.0,
                          blur_p=0.0, low_res_p=0.0)
    v = belt_views(bank, torch.tensor([0]), 120, photo, torch.zeros(1, 3, 8, 8, dtype=torch.uint8),
                   torch.Generator().manual_seed(0))[0]
    # the centre square of the 160 x 120 photo, mirrored or not: the item (x 20-60, y 30-70 in the photo) at
    # one side, its white board elsewhere
    red = (v[0] > 0.8) & (v[2] < 0.2)
    rows, cols = torch.nonzero(red, as_tuple=True)
    def near(span: tuple[int, int], *choices: tuple[int, int]) -> bool:  # within a pixel (half-pixel centre)
        return any(abs(span[0] - a) <= 1 and abs(span[1] - b) <= 1 for a, b in choices)

    assert near((int(cols.min()), int(cols.max()) + 1), (0, 40), (80, 120)), (cols.min(), cols.max())
    assert near((int(rows.min()), int(rows.max()) + 1), (30, 70), (50, 90)), (rows.min(), rows.max())
    assert int(red.sum()) == pytest.approx(1600, abs=120)
    assert float(v[:, ~red].min()) > 0.45 and float((v[:, ~red] > 0.95).float().mean()) > 0.95  # white, some edge
    wild = AugmentConfig(belt_p=0.5, white_balance=0.3, photometric=0.4, hue_deg=20, blur_p=1.0, low_res_p=1.0)
    many = belt_views(bank, torch.tensor([0, 1] * 16), 64, wild, torch.full((2, 3, 96, 96), 90, dtype=torch.uint8),
                      torch.Generator().manual_seed(1))
    assert many.shape == (32, 3, 64, 64) and float(many.min()) >= 0 and float(many.max()) <= 1
    assert float(many.std(0).mean()) > 0.05  # views differ


@pytest.fixture(scope="module")
def pack(tmp_path_factory, demo_images):
    from waste_sorting.cli import main

    path = tmp_path_factory.mktemp("pack") / "demo.pt"
    assert main(["pack", "--data", str(demo_images), "--out", str(path), "--holdout", "0.25"]) == 0
    return path


def test_a_pack_holds_the_split_masks_backgrounds_and_teacher(pack, demo_images):
    from waste_sorting.model.pack import PACK_SIZE, load_pack
    from waste_sorting.model.train import split_folder

    classes, train_items, hold_items = split_folder(demo_images, 0.25, 42)
    p = load_pack(pack)
    assert p.classes == classes and not p.teacher_trained
    assert len(p.train.labels) == len(train_items) and len(p.holdout.labels) == len(hold_items)
    assert p.train.images.shape[1:] == (PACK_SIZE[1], PACK_SIZE[0], 3) and p.train.masks.shape[1:] == PACK_SIZE[::-1]
    assert p.holdout.labels.tolist() == [it.label for it in hold_items]
    assert (p.train.masks > 127).any(axis=(1, 2)).all()  # every item found
    assert p.backgrounds.shape[0] == 256 and p.data["holdout_images"] == len(hold_items)


def test_a_tiny_cpu_run_resumes_and_its_parts_export_to_a_model_the_cell_loads(pack, tmp_path, capsys):
    from waste_sorting.cli import main
    from waste_sorting.inference.classifier import ImageClassifier

    run = tmp_path / "run"
    common = ["distill", "--pack", str(pack), "--out", str(run), "--device", "cpu", "--batch-size", "8",
              "--size", "64", "--teacher-size", "64", "--teacher-steps", "2", "--no-bf16"]
    assert main([*common, "--steps", "2"]) == 0
    out = capsys.readouterr().out
    assert "fine-tuning ImageNet EfficientNet-Lite0" in out and "student at step 2" in out
    assert (run / "teacher.pt").is_file() and (run / "student.pt.000").is_file()
    assert main([*common, "--steps", "3"]) == 0  # a longer budget: resumes, the teacher is not tuned again
    out = capsys.readouterr().out
    assert "resuming" in out and "at step 2" in out and "fine-tuned by this run before" in out
    report = json.loads((run / "report.json").read_text())
    assert report["student"]["step"] == 3 and 0 <= report["teacher"]["belt"] <= 1
    assert main(["export", str(run / "student.pt"), "--out", str(tmp_path / "m.onnx")]) == 0
    clf = ImageClassifier(tmp_path / "m.onnx", "onnxruntime")
    probs = clf.classify_crops(np.zeros((2, 64, 64, 3), np.uint8))
    assert probs.shape == (2, 6) and np.allclose(probs.sum(1), 1, atol=1e-4)


def test_a_file_that_is_not_a_pack_is_one_line(tmp_path, capsys):
    from waste_sorting.cli import main

    bad = tmp_path / "bad.pt"
    bad.write_text("not a pack")
    assert main(["distill", "--pack", str(bad), "--out", str(tmp_path / "run"), "--device", "cpu"]) == 1
    err = capsys.readouterr().err
    assert "not a training pack" in err and "waste-sorting pack" in err and "Traceback" not in err
