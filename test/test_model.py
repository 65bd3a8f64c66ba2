"""The attention-ResNet: shapes, attention, learning, export (small and fast: tiny inputs)."""

import json
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="training tests need torch (pip install .[train])")

from waste_sorting.model.attention import CBAM, ChannelAttention, SpatialAttention  # noqa: E402
from waste_sorting.model.resnet import ArchConfig, build_model, count_parameters  # noqa: E402


@pytest.mark.parametrize("attention", ["cbam", "se", "none"])
@pytest.mark.parametrize("depth", [10, 18])
def test_shapes(attention, depth):
    net = build_model(ArchConfig(depth=depth, attention=attention, num_classes=6, width=16)).eval()
    out = net(torch.randn(3, 3, 64, 64))
    assert out.shape == (3, 6)


def test_attention_gates_are_probabilities_with_the_right_shapes():
    x = torch.randn(2, 32, 8, 8)
    ch, sp = ChannelAttention(32), SpatialAttention()
    g_c, g_s = ch.gate(x), sp.gate(x)
    assert g_c.shape == (2, 32, 1, 1) and g_s.shape == (2, 1, 8, 8)
    for g in (g_c, g_s):
        assert float(g.min()) > 0.0 and float(g.max()) < 1.0
    y = CBAM(32)(x)
    assert y.shape == x.shape
    # CBAM only rescales: |y| <= |x| everywhere.
    assert bool((y.abs() <= x.abs() + 1e-6).all())


def test_parameter_counts_order_none_se_cbam():
    counts = {a: count_parameters(build_model(ArchConfig(attention=a))) for a in ("none", "se", "cbam")}
    assert counts["none"] < counts["cbam"] and counts["none"] < counts["se"]
    assert 11_000_000 < counts["none"] < 11_400_000  # ResNet-18 body with a 6-class head


def test_unknown_options_are_rejected():
    with pytest.raises(ValueError):
        build_model(ArchConfig(attention="transformer"))
    with pytest.raises(ValueError):
        build_model(ArchConfig(depth=50))


def test_training_steps_lower_the_loss():
    torch.manual_seed(0)
    net = build_model(ArchConfig(depth=10, width=16, num_classes=3, dropout=0.0))
    x = torch.randn(12, 3, 48, 48)
    y = torch.tensor([0, 1, 2] * 4)
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3)
    losses = []
    for _ in range(15):
        loss = torch.nn.functional.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < 0.5 * losses[0]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, demo_images):
    """One epoch of the real `train` command on the demo images, tiny input."""
    from waste_sorting.cli import main

    out = tmp_path_factory.mktemp("run")
    code = main(["train", "--data", str(demo_images), "--out", str(out), "--size", "64", "--epochs", "1",
                 "--depth", "10", "--width", "16", "--batch-size", "8", "--holdout", "0.25", "--quiet",
                 "--threads", "2"])
    assert code == 0
    return out


def test_train_command_writes_checkpoint_report_figures_and_model(tiny_run):
    for name in ("checkpoint.pt", "report.json", "confusion.png", "curves.png", "model.onnx", "model.json"):
        assert (tiny_run / name).is_file(), name
    report = json.loads((tiny_run / "report.json").read_text())
    assert set(report["per_class"]) == {"cardboard", "glass", "metal", "paper", "plastic", "trash"}
    assert np.array(report["confusion"]).sum() == report["images"]
    # The same holdout images composited on the belt: the domain the cell sees, reported beside it.
    belt = report["belt"]
    assert belt["images"] == report["images"] and 0.0 <= belt["top1"] <= 1.0
    assert 0.0 <= report["history"][-1]["holdout_belt_acc"] <= 1.0


def test_training_resumes_from_its_checkpoint(tiny_run, demo_images, tmp_path, capsys):
    import shutil

    from waste_sorting.cli import main

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    code = main(["train", "--data", str(demo_images), "--out", str(run), "--size", "64", "--epochs", "2",
                 "--depth", "10", "--width", "16", "--batch-size", "8", "--holdout", "0.25", "--quiet",
                 "--no-export", "--threads", "2"])
    assert code == 0
    out = capsys.readouterr().out
    assert "resuming from" in out and "after epoch 1" in out
    ckpt = torch.load(run / "checkpoint.pt", weights_only=False)
    assert ckpt["epoch"] == 2 and len(ckpt["history"]) == 2


def test_onnx_export_matches_pytorch(tiny_run):
    import onnxruntime as ort

    from waste_sorting.model.checkpoint import load_checkpoint, network_from_checkpoint

    net = network_from_checkpoint(load_checkpoint(tiny_run / "checkpoint.pt"))
    x = np.random.default_rng(0).normal(size=(5, 3, 64, 64)).astype(np.float32)  # batch 5: dynamic axis
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
    sess = ort.InferenceSession(str(tiny_run / "model.onnx"), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"input": x})[0]
    # FP16 weight storage: close, and the same decisions.
    np.testing.assert_allclose(got, ref, rtol=0.02, atol=0.02)
    assert (got.argmax(1) == ref.argmax(1)).all()
    meta = json.loads((tiny_run / "model.json").read_text())
    assert meta["input_size"] == 64 and meta["classes"][0] == "cardboard"
    assert meta["architecture"]["attention"] == "cbam" and meta["weights"] == "fp16"
    assert meta["training"]["split_seed"] == 42 and len(meta["training"]["fingerprint"]) == 16


def test_size_schedule():
    from waste_sorting.model.train import parse_size_schedule, size_at

    sched = parse_size_schedule("128:40,96:0", 160)
    assert sched == [(0, 96), (40, 128)]
    assert [size_at(sched, e) for e in (0, 39, 40, 99)] == [96, 96, 128, 128]
    assert parse_size_schedule("", 160) == [(0, 160)]
    with pytest.raises(ValueError):
        parse_size_schedule("96:5", 160)


def test_feature_distance_ignores_the_common_offset_and_sees_which_image_is_which():
    from waste_sorting.model.train import feature_distance

    teacher = torch.randn(16, 40)
    assert float(feature_distance(teacher + 3.0, teacher)) < 1e-5   # same embeddings, shifted
    assert float(feature_distance(teacher[torch.randperm(16)], teacher)) > 0.5  # images mixed up


def test_feature_distillation_trains_and_resumes_with_its_projector(tiny_run, demo_images, tmp_path, capsys):
    from waste_sorting.cli import main

    teacher = tiny_run / "checkpoint.pt"  # any network the registry builds can teach
    args = ["train", "--data", str(demo_images), "--out", str(tmp_path / "s"), "--size", "64", "--depth", "10",
            "--width", "8", "--batch-size", "8", "--holdout", "0.25", "--quiet", "--no-export", "--threads", "2",
            "--teacher", str(teacher), "--teacher-size", "64", "--feature-kd", "1.0"]
    assert main([*args, "--epochs", "1"]) == 0
    ckpt = torch.load(tmp_path / "s" / "checkpoint.pt", weights_only=False)
    assert ckpt["projector"]["weight"].shape == (16 * 8, 8 * 8)  # student 64-d -> teacher 128-d embedding
    assert main([*args, "--epochs", "2"]) == 0
    assert "after epoch 1" in capsys.readouterr().out
    assert torch.load(tmp_path / "s" / "checkpoint.pt", weights_only=False)["epoch"] == 2


def test_onnx_teacher_gives_what_pytorch_gives_and_refuses_another_size(tiny_run):
    from waste_sorting.model.checkpoint import load_checkpoint, network_from_checkpoint
    from waste_sorting.model.registry import embed_and_logits
    from waste_sorting.model.teacher import OnnxTeacher

    net = network_from_checkpoint(load_checkpoint(tiny_run / "checkpoint.pt"))
    teacher = OnnxTeacher(net, 64, threads=1)
    x = torch.randn(5, 3, 64, 64).contiguous(memory_format=torch.channels_last)  # as training holds views
    emb, logits = teacher(x)
    with torch.no_grad():
        ref_emb, ref_logits = embed_and_logits(net, x)
    assert emb.shape == ref_emb.shape and logits.shape == (5, 6)
    assert torch.allclose(logits, ref_logits, atol=1e-4) and torch.allclose(emb, ref_emb, atol=1e-4)
    with pytest.raises(ValueError, match="64x64"):
        teacher(torch.zeros(1, 3, 48, 48))


def test_bench_times_the_teacher_in_both_runtimes(tiny_run):
    from waste_sorting.bench import bench_teacher

    t = bench_teacher(tiny_run / "checkpoint.pt", 64, seconds=0.1, threads=1, batch=4)
    assert t["architecture"] == "attention-resnet" and t["batch"] == 4
    assert t["torch-eager"]["runs"] >= 5 and t["onnxruntime"]["runs"] >= 5
    assert t["speedup"] == t["torch-eager"]["p50_ms"] / t["onnxruntime"]["p50_ms"]  # printed, never asserted


def test_a_second_trainer_on_the_same_run_folder_is_refused(demo_images, tmp_path, capsys):
    from waste_sorting.cli import main
    from waste_sorting.model.runlock import lock_run_folder

    out = tmp_path / "run"
    with lock_run_folder(out):  # as a training process holds it
        code = main(["train", "--data", str(demo_images), "--out", str(out), "--size", "64", "--epochs", "1",
                     "--quiet", "--no-export"])
        assert code == 2
        assert f"another training process (pid {os.getpid()})" in capsys.readouterr().err
        assert not (out / "checkpoint.pt").exists()
    with lock_run_folder(out):  # released with the process (here: the block)
        pass


def test_weight_averaging_means_the_weights_and_remeasures_batch_norm():
    from torch import nn

    from waste_sorting.model.averaging import average_states, recalibrate_batchnorm

    a = {"w": torch.tensor([1.0, 3.0]), "n": torch.tensor(4)}
    b = {"w": torch.tensor([3.0, 5.0]), "n": torch.tensor(9)}
    avg = average_states([a, b])
    assert torch.equal(avg["w"], torch.tensor([2.0, 4.0])) and int(avg["n"]) == 9  # counters: the last
    with pytest.raises(ValueError):
        average_states([a, {"v": torch.zeros(2)}])

    net = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4))
    x = torch.randn(40, 3, 8, 8) * 2 + 5
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, torch.zeros(40)), batch_size=8)
    assert recalibrate_batchnorm(net, loader) == 40
    with torch.no_grad():
        feats = net[0](x)
    # Every batch weighs the same: the running mean is the data's mean, not an exponential trail.
    torch.testing.assert_close(net[1].running_mean, feats.mean((0, 2, 3)), rtol=1e-4, atol=1e-4)
    assert net[1].momentum == 0.1 and not net.training


def test_average_command_on_a_runs_last_epochs(demo_images, tmp_path, capsys):
    from waste_sorting.cli import main

    run = tmp_path / "run"
    args = ["--size", "64", "--depth", "10", "--width", "16", "--batch-size", "8", "--holdout", "0.25", "--quiet",
            "--threads", "2"]
    assert main(["train", "--data", str(demo_images), "--out", str(run), "--epochs", "3", "--keep-epochs", "2",
                 "--no-export", *args]) == 0
    kept = sorted(p.name for p in run.glob("epoch-*.pt"))
    assert kept == ["epoch-002.pt", "epoch-003.pt"]
    assert "optimizer" not in torch.load(run / kept[0], weights_only=False)
    out = tmp_path / "avg"
    assert main(["average", "--data", str(demo_images), "--out", str(out), *(str(run / k) for k in kept)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["averaged_from"] == [str(run / k) for k in kept] and 0 <= report["belt"]["top1"] <= 1
    meta = json.loads((out / "model.json").read_text())
    assert meta["accuracy"]["holdout_top1"] == report["top1"]
    s2, s3 = (torch.load(run / k, weights_only=False)["model"] for k in kept)
    avg = torch.load(out / "checkpoint.pt", weights_only=False)["model"]
    name = "conv1.weight" if "conv1.weight" in avg else next(k for k in avg if k.endswith("weight"))
    torch.testing.assert_close(avg[name], (s2[name] + s3[name]) / 2)
    assert main(["average", "--data", str(tmp_path), "--out", str(tmp_path / "x"), str(run / kept[0])]) == 1
    assert "not the data" in capsys.readouterr().err


def test_a_shipped_onnx_file_becomes_the_trainable_network_it_was(tiny_run):
    """Batch norms folded by the exporter come back exact in eval mode and near in training mode."""
    import onnxruntime as ort

    from waste_sorting.model.from_onnx import network_from_onnx

    rng = np.random.default_rng(1)
    calib = torch.from_numpy(rng.normal(size=(32, 3, 64, 64)).astype(np.float32))
    net, meta = network_from_onnx(tiny_run / "model.onnx", calibration=calib)
    assert meta.architecture["depth"] == 10 and meta.classes[0] == "cardboard"
    x = rng.normal(size=(4, 3, 64, 64)).astype(np.float32)
    with torch.no_grad():
        got = net.eval()(torch.from_numpy(x)).numpy()
    sess = ort.InferenceSession(str(tiny_run / "model.onnx"), providers=["CPUExecutionProvider"])
    ref = sess.run(None, {"input": x})[0]
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)
    # Training mode normalises by the batch: with statistics measured on the same data it gives the
    # same function (dropout, the other thing training mode changes, held off for the comparison).
    net.train()
    net.dropout.eval()
    with torch.no_grad():
        batch_stats = net(calib).numpy()
    net.eval()
    with torch.no_grad():
        running = net(calib).numpy()
    np.testing.assert_allclose(batch_stats, running, rtol=1e-2, atol=1e-2)
    # The convolutions are back at unit-variance output, the scale training leaves them at.
    conv = net.stages[0][0].conv1
    with torch.no_grad():
        out = conv(net.stem(calib))
    np.testing.assert_allclose(out.var(dim=(0, 2, 3)).numpy(), 1.0, rtol=0.05)


def test_train_starts_from_an_onnx_file_with_bf16_and_varied_backgrounds(tiny_run, demo_images, tmp_path, capsys):
    from waste_sorting.cli import main

    code = main(["train", "--data", str(demo_images), "--out", str(tmp_path / "ft"), "--size", "64",
                 "--epochs", "1", "--depth", "10", "--width", "16", "--batch-size", "8", "--holdout", "0.25",
                 "--quiet", "--no-export", "--threads", "2", "--init-onnx", str(tiny_run / "model.onnx"),
                 "--bf16", "--backgrounds", "varied", "--white-balance", "0.15"])
    assert code == 0
    assert f"initialised from {tiny_run / 'model.onnx'}" in capsys.readouterr().out
    ckpt = torch.load(tmp_path / "ft" / "checkpoint.pt", weights_only=False)
    assert np.isfinite(ckpt["history"][-1]["train_loss"])


def _torchvision_resnet18() -> torch.nn.Module:
    """A plain ResNet-18 with torchvision's module names (torchvision itself is not installed)."""
    from torch import nn

    class Block(nn.Module):
        def __init__(self, cin: int, cout: int, stride: int) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.downsample = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                               if stride != 1 or cin != cout else None)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
            return torch.relu(out + (x if self.downsample is None else self.downsample(x)))

    class ResNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            chans = [64, 64, 128, 256, 512]
            for i in range(4):
                stride = 1 if i == 0 else 2
                setattr(self, f"layer{i + 1}", nn.Sequential(Block(chans[i], chans[i + 1], stride),
                                                             Block(chans[i + 1], chans[i + 1], 1)))
            self.fc = nn.Linear(512, 1000)

        def embed(self, x: torch.Tensor) -> torch.Tensor:
            x = self.maxpool(torch.relu(self.bn1(self.conv1(x))))
            for i in range(4):
                x = getattr(self, f"layer{i + 1}")(x)
            return x.mean(dim=(2, 3))

    torch.manual_seed(3)
    net = ResNet()
    for m in net.modules():  # trained-looking batch norms, not the identity
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return net.eval()


def test_torchvision_resnet_weights_make_the_attention_resnet_compute_the_same_at_step_0(tmp_path):
    from waste_sorting.errors import ModelError
    from waste_sorting.model.from_torchvision import load_state, network_from_torchvision

    ref = _torchvision_resnet18()
    path = tmp_path / "resnet18.pth"
    torch.save(ref.state_dict(), path)
    arch = {"name": "attention-resnet", "depth": 18, "attention": "cbam", "num_classes": 6, "width": 64,
            "dropout": 0.2}
    net = network_from_torchvision(load_state(path), arch).eval()
    assert arch["gate_scale"] == 2.0
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        torch.testing.assert_close(net.embed(x), ref.embed(x), rtol=1e-5, atol=1e-5)
    # The attention still learns: its last layers get gradients from the first step.
    net.train()
    net(x).sum().backward()
    grad = net.stages[2][0].attention.channel.mlp[-1].weight.grad
    assert grad is not None and float(grad.abs().sum()) > 0
    with pytest.raises(ModelError, match="--depth 18"):
        network_from_torchvision(load_state(path), {**arch, "depth": 34})
    bottleneck = {**ref.state_dict(), "layer1.0.conv3.weight": torch.zeros(1)}
    with pytest.raises(ModelError, match="Bottleneck"):
        network_from_torchvision(bottleneck, dict(arch))


def test_train_from_torchvision_weights_exports_a_model_the_cell_runs(demo_images, tmp_path, capsys):
    import onnxruntime as ort

    from waste_sorting.cli import main
    from waste_sorting.model.from_onnx import network_from_onnx

    path = tmp_path / "resnet18.pth"
    torch.save(_torchvision_resnet18().state_dict(), path)
    out = tmp_path / "tv"
    code = main(["train", "--data", str(demo_images), "--out", str(out), "--size", "64", "--epochs", "1",
                 "--depth", "18", "--batch-size", "8", "--holdout", "0.25", "--quiet", "--threads", "2",
                 "--init-torchvision", str(path)])
    assert code == 0 and "attention starts as the identity" in capsys.readouterr().out
    onnx_path = out / "model.onnx"
    x = np.random.default_rng(0).normal(size=(2, 3, 64, 64)).astype(np.float32)
    ref = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    net, meta = network_from_onnx(onnx_path)  # the gate scale travels in the sidecar
    assert meta.architecture["gate_scale"] == 2.0
    with torch.no_grad():
        np.testing.assert_allclose(net(torch.from_numpy(x)).numpy(), ref, rtol=1e-3, atol=1e-3)
