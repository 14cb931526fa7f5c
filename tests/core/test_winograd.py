"""3x3 convolutions by Winograd: the same values and input gradients as ``conv2d``, only where switched on."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dream_core import autotune
from dream_core.models import get_model, resolve_targets
from dream_core.models import winograd as winograd_module
from dream_core.models.winograd import WinogradConv2d, use_winograd, winograd_convs
from dream_core.objective import Objective
from dream_core.tiling import StepConfig, tile_gradient

SIZES = [(16, 16), (17, 23), (5, 4), (3, 9), (40, 33)]  # whole tiles, ragged edges, smaller than a tile


def _pair(c: int, k: int, bias: bool = True, seed: int = 0) -> tuple[nn.Conv2d, WinogradConv2d]:
    torch.manual_seed(seed)
    conv = nn.Conv2d(c, k, 3, 1, 1, bias=bias).requires_grad_(False)
    return conv, WinogradConv2d(conv)


def _rel(got: torch.Tensor, want: torch.Tensor) -> float:
    return ((got - want).abs().max() / want.abs().max()).item()


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("channels_last", [False, True])
def test_forward_and_input_gradient_equal_conv2d(bias, channels_last, loops_build):
    conv, wino = _pair(32, 48, bias)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    for h, w in SIZES:
        x = torch.randn(1, 32, h, w).contiguous(memory_format=fmt).requires_grad_(True)
        want_y = conv(x)
        with use_winograd():
            got_y = wino(x)
        assert got_y.shape == want_y.shape
        assert _rel(got_y, want_y) < 1e-4, (h, w)  # fp32 rounding in another order; a mistake is O(1)
        g = torch.randn_like(want_y)
        (want,) = torch.autograd.grad(want_y, x, g)
        (got,) = torch.autograd.grad(got_y, x, g)
        assert got.shape == x.shape
        assert _rel(got, want) < 1e-4, (h, w)


def test_bands_of_tile_rows_join_seamlessly(monkeypatch, loops_build):
    """Big images are done a band of tile rows at a time (bounded scratch memory)."""
    conv, wino = _pair(32, 40, seed=3)
    monkeypatch.setattr(winograd_module, "BAND_BYTES", 1)  # one tile row per band
    x = torch.randn(1, 32, 30, 26, requires_grad=True)
    with use_winograd():
        got_y = wino(x)
    want_y = conv(x)
    assert _rel(got_y, want_y) < 1e-4
    g = torch.randn_like(want_y)
    (got,) = torch.autograd.grad(got_y, x, g)
    (want,) = torch.autograd.grad(want_y, x, g)
    assert _rel(got, want) < 1e-4


def test_an_in_place_relu_may_follow():
    """Models apply ``ReLU(inplace=True)`` to the result: it must be a fresh tensor, not a view."""
    conv, wino = _pair(32, 32)
    net_ref, net = nn.Sequential(conv, nn.ReLU(inplace=True)), nn.Sequential(wino, nn.ReLU(inplace=True))
    x = torch.randn(1, 32, 21, 18, requires_grad=True)
    with use_winograd():
        (got,) = torch.autograd.grad(net(x).square().sum(), x)
    (want,) = torch.autograd.grad(net_ref(x).square().sum(), x)
    assert _rel(got, want) < 1e-4


@pytest.mark.parametrize("channels_last", [False, True])
def test_the_fused_relu_and_its_backward_equal_conv2d_then_relu(channels_last, loops_build):
    """``relu=True`` (GoogLeNet's conv-ReLU pairs): the ReLU in the output transform, its backward
    in the gradient's input transform; a NCHW gradient is taken too."""
    conv, wino = _pair(32, 40, seed=5)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    for h, w in SIZES:
        x = torch.randn(1, 32, h, w).contiguous(memory_format=fmt).requires_grad_(True)
        want_y = torch.relu(conv(x))
        with use_winograd():
            got_y = wino(x, relu=True)
        assert (got_y >= 0).all() and (got_y == 0).any()
        assert _rel(got_y, want_y) < 1e-4, (h, w)
        g = torch.randn_like(want_y).contiguous(memory_format=fmt)
        (want,) = torch.autograd.grad(want_y, x, g)
        (got,) = torch.autograd.grad(got_y, x, g)
        assert _rel(got, want) < 1e-4, (h, w)
    with torch.no_grad():
        plain = wino(torch.randn(1, 32, 9, 9), relu=True)  # switched off: conv2d, then the ReLU
    assert (plain >= 0).all() and (plain == 0).any()


def _uses_winograd(wino: WinogradConv2d, x: torch.Tensor) -> bool:
    wino._kernels.clear()
    wino(x)
    return bool(wino._kernels)  # a transformed kernel was made: the Winograd path ran


def test_off_unless_switched_on_and_plain_where_it_cannot_apply():
    conv, wino = _pair(32, 32)
    x = torch.randn(1, 32, 12, 12)
    assert not _uses_winograd(wino, x)  # off by default
    with use_winograd():
        assert _uses_winograd(wino, x)
        assert not _uses_winograd(wino, torch.randn(2, 32, 12, 12))  # batches: the plain convolution
        with torch.autocast("cpu", dtype=torch.bfloat16):
            assert not _uses_winograd(wino, x)  # bf16 autocast keeps oneDNN's convolution
        with use_winograd(False):
            assert not _uses_winograd(wino, x)
    assert not _uses_winograd(wino, x)  # the switch ends with its block
    conv.requires_grad_(True)  # weights being trained get autograd's own path
    with use_winograd():
        assert not _uses_winograd(wino, x)


def test_moving_the_module_transforms_the_kernel_again():
    conv, wino = _pair(32, 32)
    x = torch.randn(1, 32, 8, 8)
    with use_winograd():
        wino(x)
        conv.weight.mul_(2)
        wino.double().float()  # ``_apply``: cast (here, back and forth) drops the cached transforms
        assert _rel(wino(x), conv(x)) < 1e-4


def test_only_wide_plain_3x3_convolutions_are_wrapped():
    net = nn.Sequential(
        nn.Conv2d(3, 64, 7, 2, 3),  # the stem: not 3x3
        nn.Conv2d(64, 64, 3, 1, 1),  # wrapped
        nn.Conv2d(64, 64, 3, 2, 1),  # strided
        nn.Conv2d(64, 64, 3, 1, 1, groups=64),  # depthwise
        nn.Conv2d(64, 16, 3, 1, 1),  # too narrow to pay
        nn.Sequential(nn.Conv2d(64, 96, 3, 1, 1)),  # nested: wrapped
        nn.Conv2d(64, 64, 3, 1, 2, dilation=2),
    )
    assert winograd_convs(net) == 2
    assert [type(m).__name__ for m in net] == [
        "Conv2d",
        "WinogradConv2d",
        "Conv2d",
        "Conv2d",
        "Conv2d",
        "Sequential",
        "Conv2d",
    ]
    assert isinstance(net[5][0], WinogradConv2d)
    assert winograd_convs(net) == 0  # idempotent
    with pytest.raises(ValueError, match="3x3"):
        WinogradConv2d(nn.Conv2d(64, 64, 3, 2, 1))


@pytest.fixture(scope="module")
def googlenet_model(googlenet_weights):
    """GoogLeNet as users load it (random weights from a local file: nothing downloaded)."""
    return get_model("googlenet", weights=str(googlenet_weights))


def test_a_googlenet_step_by_winograd_matches_the_direct_one(googlenet_model):
    """The whole gradient of a dream step on GoogLeNet (random weights, a noise image: in flat regions the
    direct convolution gives neighbours bit-identical values, and max-pooling breaks those exact ties
    differently from Winograd's, which rounds by position in the tile; both are valid gradients).

    The input is seeded: over 20 noise images 18 agree to 2.5e-6, one to 5e-5 and one only to
    1.4e-3, where a near-zero activation's sign flipped between the two roundings; an input drawn
    from the global generator depended on the tests run before it in the same worker."""
    assert sum(isinstance(m, WinogradConv2d) for m in googlenet_model.modules()) >= 9
    obj = Objective(resolve_targets("googlenet", "mixed3"))
    x = torch.rand(1, 3, 96, 120, generator=torch.Generator().manual_seed(0))
    grads = {}
    for wino in (False, True):
        grads[wino] = tile_gradient(googlenet_model, x, obj, StepConfig(tile=512, channels_last=True, winograd=wino))
    rel = ((grads[True] - grads[False]).norm() / grads[False].norm()).item()
    assert rel < 1e-3, rel


def test_autotune_times_winograd_and_the_setting_overrides_it(googlenet_model, tune_cache, monkeypatch):
    planner = autotune.Planner(googlenet_model)
    t = planner.tuning.timings
    assert "fp32-cl-wino" in t  # timed beside the direct convolution
    fp32_best = min(v for k, v in t.items() if k.startswith("fp32"))
    assert planner.tuning.winograd == (planner.tuning.precision == "fp32" and t["fp32-cl-wino"] == fp32_best)
    assert planner.config((96, 96)).winograd == planner.tuning.winograd
    monkeypatch.setenv(autotune.WINOGRAD_ENV, "off")
    assert not autotune.Planner(googlenet_model).config((96, 96)).winograd
    monkeypatch.setenv(autotune.WINOGRAD_ENV, "on")
    monkeypatch.setenv(autotune.PRECISION_ENV, "fp32")
    assert autotune.Planner(googlenet_model).config((96, 96)).winograd
    monkeypatch.setenv(autotune.PRECISION_ENV, "bf16")  # Winograd is fp32 only
    assert not autotune.Planner(googlenet_model).config((96, 96)).winograd


def test_winograd_is_not_timed_where_a_model_has_no_such_convolution(tune_cache, monkeypatch):
    monkeypatch.setenv(autotune.WINOGRAD_ENV, "auto")
    planner = autotune.Planner(get_model())  # the default model: depthwise and strided convolutions only
    assert "fp32-cl-wino" not in planner.tuning.timings and not planner.tuning.winograd
