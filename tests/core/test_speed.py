"""The speed levers keep the dream the same: folding, smoothing, precision, tiling choice, denormals.

No timing here (speed lives in bench/bench_dream.py): these check that each
faster path computes what the plain path computes, within stated tolerances.
"""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dream_core import autotune, memory, tuning_cache
from dream_core.engine import dream
from dream_core.models import get_model, resolve_targets
from dream_core.objective import Objective
from dream_core.params import DreamParams
from dream_core.tensors import to_tensor
from dream_core.tiling import StepConfig

# ------------------------------------------------------------------ BatchNorm folding


def _imagenet_normalised(model, x: torch.Tensor) -> torch.Tensor:
    """The input torchvision's networks take: ``(x - mean) / std`` with the spec's values."""
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in (model.spec.mean, model.spec.std))
    return (x - mean) / std


@pytest.mark.slow  # imports torchvision (1.4 s) to build its GoogLeNet
def test_folded_googlenet_matches_torchvision(googlenet_weights):
    from torchvision.models import googlenet

    net = googlenet(weights=None, aux_logits=False, init_weights=False, transform_input=True).eval()
    net.load_state_dict(torch.load(googlenet_weights, weights_only=True), strict=False)
    ours = get_model("googlenet", "cpu", weights=str(googlenet_weights))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in ours.modules())
    x = torch.rand(1, 3, 96, 80, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        h = net._transform_input(_imagenet_normalised(ours, x))
        for name in ("conv1", "maxpool1", "conv2", "conv3", "maxpool2", "inception3a", "inception3b", "maxpool3",
                     "inception4a", "inception4b", "inception4c"):  # fmt: skip
            h = getattr(net, name)(h)
        got = ours.features(x, ["inception4c"])["inception4c"]
    assert torch.allclose(got, h, rtol=1e-4, atol=1e-4 * h.abs().max().item()), (got - h).abs().max()


def _backward_nodes(t: torch.Tensor) -> set[str]:
    seen, todo, names = set(), [t.grad_fn], set()
    while todo:
        fn = todo.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        names.add(type(fn).__name__)
        todo += [f for f, _ in fn.next_functions]
    return names


@pytest.mark.slow  # imports torchvision (1.4 s) to build its GoogLeNet
@pytest.mark.parametrize("winograd", [False, True])
def test_googlenet_fast_paths_match_torchvision_with_the_image_gradient(googlenet_weights, winograd):
    """A fp32 channels-last dream's GoogLeNet (the pools and the transforms as compiled loops, the 1x1
    convolutions as products, the three reading a block's input merged, ReLUs fused, Winograd or not):
    torchvision's values and image gradient. Where two values in a max-pool window are equal to within
    fp32 rounding, either may take the gradient (both are valid), which moves a patch of it."""
    from torchvision.models import googlenet

    from dream_core.models.winograd import use_winograd

    net = googlenet(weights=None, aux_logits=False, init_weights=False, transform_input=True).eval()
    net.load_state_dict(torch.load(googlenet_weights, weights_only=True), strict=False)
    net.requires_grad_(False)
    ours = get_model("googlenet", "cpu", weights=str(googlenet_weights))
    x = torch.rand(1, 3, 101, 87, generator=torch.Generator().manual_seed(2))
    xr = x.clone().requires_grad_(True)
    h = net._transform_input(_imagenet_normalised(ours, xr))
    for name in ("conv1", "maxpool1", "conv2", "conv3", "maxpool2", "inception3a", "inception3b", "maxpool3",
                 "inception4a", "inception4b", "inception4c"):  # fmt: skip
        h = getattr(net, name)(h)
    h.square().mean().backward()
    xo = x.clone().contiguous(memory_format=torch.channels_last).requires_grad_(True)
    with use_winograd(winograd):
        got = ours.features(xo, ["inception4c"])["inception4c"]
    nodes = _backward_nodes(got)
    assert {"_MaxPoolFnBackward", "_PointwiseFnBackward"} <= nodes  # the fast paths ran
    assert ("_WinogradFnBackward" in nodes) == winograd
    assert torch.allclose(got, h, rtol=1e-4, atol=1e-4 * h.abs().max().item()), (got - h).abs().max()
    got.square().mean().backward()
    assert xo.grad is not None and xr.grad is not None
    # one such tie taken the other way moved this gradient by 0.16 %; a wrong kernel moves it by O(1)
    assert (xo.grad - xr.grad).norm() < 1e-2 * xr.grad.norm(), (xo.grad - xr.grad).norm() / xr.grad.norm()


def test_a_relu_before_a_max_pool_moves_after_it_unless_its_layer_is_dreamed(googlenet_weights):
    """conv1's ReLU runs on maxpool1's output (a quarter of the pixels) when conv1 itself is not
    a target: the same values and image gradient; when it is, conv1's output keeps its ReLU."""
    ours = get_model("googlenet", "cpu", weights=str(googlenet_weights))
    x = torch.rand(1, 3, 64, 72, generator=torch.Generator().manual_seed(3)).contiguous(
        memory_format=torch.channels_last
    )

    def run(layers: list[str]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        xr = x.clone().requires_grad_(True)
        feats = ours.features(xr, layers)
        (grad,) = torch.autograd.grad(sum(f.square().mean() for f in feats.values()), xr)
        return feats, grad

    deferred, g_deferred = run(["maxpool1"])
    assert type(deferred["maxpool1"].grad_fn).__name__.startswith("Relu")  # the ReLU came last
    both, g_both = run(["conv1", "maxpool1"])
    assert "Relu" not in type(both["maxpool1"].grad_fn).__name__  # conv1 dreamed: its own ReLU
    assert (both["conv1"] >= 0).all() and (both["conv1"] == 0).any()
    assert torch.equal(deferred["maxpool1"], both["maxpool1"])
    xr = x.clone().requires_grad_(True)
    reference = ours.stages[1](ours.stages[0](ours.normalize(xr)))  # the stages as written: ReLU, then the pool
    (g_reference,) = torch.autograd.grad(reference.square().mean(), xr)
    assert torch.equal(reference, deferred["maxpool1"])
    torch.testing.assert_close(g_deferred, g_reference, rtol=1e-5, atol=1e-8)
    assert not torch.allclose(g_both, g_deferred)  # conv1's own term counts too


@pytest.mark.slow  # builds a full-size torchvision model
def test_folded_resnet50_matches_torchvision(tmp_path):
    from torchvision.models import resnet50

    torch.manual_seed(0)
    net = resnet50(weights=None).eval()
    for m in net.modules():  # non-trivial statistics, so folding has something to fold
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.1, 0.1)
    path = tmp_path / "r50.pth"
    torch.save(net.state_dict(), path)
    ours = get_model("resnet50", "cpu", weights=str(path))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in ours.modules())
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        h = net.maxpool(net.relu(net.bn1(net.conv1(_imagenet_normalised(ours, x)))))
        h = net.layer2(net.layer1(h))
        got = ours.features(x, ["layer2.3"])["layer2.3"]
    assert torch.allclose(got, h, rtol=1e-4, atol=1e-4 * h.abs().max().item()), (got - h).abs().max()
    # the image's gradient too (conv1's by phases)
    xg = x.clone().requires_grad_(True)
    theirs = net.layer2(net.layer1(net.maxpool(net.relu(net.bn1(net.conv1(_imagenet_normalised(ours, xg)))))))
    (want,) = torch.autograd.grad(theirs.pow(2).mean(), xg)
    (grad,) = torch.autograd.grad(ours.features(xg, ["layer2.3"])["layer2.3"].pow(2).mean(), xg)
    assert ((grad - want).abs().max() / want.abs().max()).item() < 1e-4


# ------------------------------------------------------------------ smoothing


def test_fast_smoothing_equals_three_separate_blurs():
    """Convolution (small radii) or FFT (large): the numbers of one blur per sigma and channel, averaged."""
    import math

    import torch.nn.functional as F

    from dream_core.smoothing import gaussian_kernel, smooth_gradient, smoothing_sigmas

    def blur(x: torch.Tensor, sigma: float, r: int) -> torch.Tensor:  # one channel, one sigma, 2-D kernel
        k = gaussian_kernel(sigma, r)
        return F.conv2d(F.pad(x, (r, r, r, r), mode="reflect"), (k[:, None] * k[None, :])[None, None])

    g = torch.randn(1, 3, 70, 110, generator=torch.Generator().manual_seed(3))
    for smoothing, progress in ((0.5, 0.1), (0.5, 1.0), (2.0, 0.5)):
        sigmas = smoothing_sigmas(smoothing, progress)
        r = math.ceil(3 * max(sigmas))  # one radius for the three kernels, as before
        plain = torch.cat([sum(blur(g[:, c : c + 1], s, r) for s in sigmas) / 3 for c in range(3)], dim=1)
        fast = smooth_gradient(g.clone(), smoothing, progress)
        assert torch.allclose(fast, plain, atol=1e-5), (smoothing, progress, (fast - plain).abs().max())


# ------------------------------------------------------------------ precision


def _gain(model, spec: str, src, out) -> tuple[float, float]:
    """The fp32 objective of ``out`` and its gain over ``src``."""
    obj = Objective(resolve_targets(model.name, spec))
    with torch.no_grad():
        before, after = (float(obj(model.features(to_tensor(im), obj.layers))) for im in (src, out))
    return after, after / before


@pytest.mark.slow  # two dreams, one under bf16 autocast (emulated, 3 s, on CPUs without bf16)
@pytest.mark.parametrize("precision", ["bf16"])
def test_reduced_precision_dream_keeps_objective_and_gain_within_5_percent(model, sample_image, tune_cache,
                                                                           monkeypatch, precision):  # fmt: skip
    """The quality guarantee of the bf16 path: same objective and activation gain as fp32, within 5 %."""
    img = sample_image.copy()
    img.thumbnail((128, 128))
    params = DreamParams(octaves=2, iterations=6, seed=11)
    results = {}
    for name in ("fp32", precision):
        monkeypatch.setenv(autotune.PRECISION_ENV, name)
        results[name] = _gain(model, params.layer, img, dream(img, params).image)
    (obj32, gain32), (obj16, gain16) = results["fp32"], results[precision]
    assert gain32 > 1.3  # the dream really raised the activation
    assert abs(obj16 / obj32 - 1) < 0.05, results
    assert abs(gain16 / gain32 - 1) < 0.05, results


def test_lite0_inplace_relu6_has_torchs_values_and_gradient():
    """lite0's copy-free in-place ReLU6: the values and gradient of F.relu6, edges (0, 6) included."""
    from dream_core.models.relu6 import relu6_

    x = torch.tensor([-1.0, 0.0, 0.5, 3.0, 6.0, 7.5]).repeat(2, 3, 4, 1) * torch.rand(2, 3, 4, 1).add(0.5).round()
    w = torch.randn(3, 3, 1, 1)
    grads = []
    for f in (F.relu6, relu6_):
        xi = x.clone().requires_grad_(True)
        y = f(F.conv2d(xi, w))  # in place on a conv output, as in the model
        (g,) = torch.autograd.grad((y * torch.arange(y.numel()).view_as(y)).sum(), xi)
        grads.append((y.detach(), g))
    assert torch.equal(grads[0][0], grads[1][0])
    assert torch.equal(grads[0][1], grads[1][1])
    with torch.no_grad():  # no autograd: plain in-place relu6
        t = torch.tensor([-2.0, 3.0, 9.0])
        assert relu6_(t) is t and t.tolist() == [0.0, 3.0, 6.0]


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float32])
def test_relu6_in_place_on_the_bits_is_relu6(dtype):
    """ReLU6 of bf16/fp16 clamps the bits as int16: the same values as a float clamp, in place."""
    from dream_core.models.relu6 import clamp6_

    edges = [-0.0, 0.0, -1e-30, 1e-30, -7.0, 5.96875, 6.0, 6.0625, 1e4, -1e4, float("inf"), -float("inf")]
    x = torch.cat([torch.tensor(edges), torch.randn(10_000) * 5]).to(dtype)
    want = x.clone().clamp_(0.0, 6.0)
    out = clamp6_(x)
    assert out is x and torch.equal(x, want)
    if dtype != torch.float32:
        assert not torch.signbit(x).any()  # -0 is +0 too (a float clamp may keep -0)


# ------------------------------------------------------------------ autotune


def test_autotune_measures_once_and_caches_per_model_and_machine(model, tune_cache):
    planner = autotune.Planner(model)
    assert planner.tuning.precision in ("fp32", "bf16")
    assert {"fp32", "fp32-cl"} <= planner.tuning.timings.keys()
    stored = json.loads(tune_cache.read_text())
    key = autotune.machine_key(model)
    assert key.startswith("efficientnet-lite0|cpu:") and torch.__version__ in key
    assert key.endswith(f"|engine {tuning_cache.ENGINE_VERSION}")  # older code's tunings are not reused
    assert stored[key]["precision"] == planner.tuning.precision
    # a fresh process (nothing in memory) reads the file instead of timing again
    autotune.clear_memory_cache()
    stored[key]["timings"] = {"fp32": 1.0, "fp32-cl": 2.0, "marker": 3.0}
    stored[key]["precision"], stored[key]["channels_last"] = "fp32", False
    tune_cache.write_text(json.dumps(stored))
    again = autotune.Planner(model)
    assert again.tuning.timings["marker"] == 3.0
    cfg = again.config((64, 64))
    assert cfg.amp_dtype is None and not cfg.channels_last


def test_precision_and_tile_settings_override_the_measurement(model, tune_cache, monkeypatch):
    monkeypatch.setenv(autotune.PRECISION_ENV, "bf16")
    monkeypatch.setenv(autotune.TILE_ENV, "192")
    cfg = autotune.Planner(model).config((700, 900))
    assert cfg.amp_dtype == torch.bfloat16 and cfg.channels_last and cfg.tile == 192
    assert not tune_cache.exists()  # forced: nothing measured
    monkeypatch.setenv(autotune.PRECISION_ENV, "fp32")
    monkeypatch.delenv(autotune.TILE_ENV)
    assert autotune.Planner(model, tile=320).config((700, 900)).tile == 320  # the user's tile size stands


def test_tile_choice_stays_within_the_memory_budget(model, tune_cache, monkeypatch):
    """With a small budget the chosen tiles (margins included) fit it; with a large one a 300 px image is one pass."""
    monkeypatch.setenv(autotune.PRECISION_ENV, "fp32")
    planner = autotune.Planner(model)
    planner.tuning.bytes_per_px = memory.peak_bytes_per_pixel(model, StepConfig(), side=64)
    monkeypatch.setenv(memory.MEMORY_ENV, "4096")
    assert autotune._tiles(300, 300, planner.tile_for(300, 300)) == [300 * 300]  # no margins to pay
    budget_mb = 300  # 256 px tiles fit it, larger ones and the whole image do not
    monkeypatch.setenv(memory.MEMORY_ENV, str(budget_mb))
    h, w = 900, 700
    tiles = autotune._tiles(h, w, planner.tile_for(h, w))
    assert len(tiles) > 1
    assert max(tiles) * planner.tuning.bytes_per_px <= budget_mb * 2**20


def test_peak_bytes_per_pixel_predicts_a_bigger_step(model):
    """The per-pixel peak measured on small images predicts a bigger image's peak, and
    it is more than the activations autograd keeps (backward's gradients come on top)."""
    cfg = StepConfig()
    per_px = memory.peak_bytes_per_pixel(model, cfg, side=64)
    small = memory.peak_bytes(model, cfg, 64)
    predicted = small + per_px * (256**2 - 64**2)
    assert abs(memory.peak_bytes(model, cfg, 256) / predicted - 1) < 0.1

    kept: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        kept[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    x = torch.rand(1, 3, 256, 256, requires_grad=True)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model.features(x, [model.spec.layers[-1][0]])
    assert per_px * 256**2 > sum(kept.values())


def test_dream_flushes_denormals(cat, fast):
    torch.set_flush_denormal(False)
    tiny = torch.tensor([1e-40])
    assert float(tiny * 1.0) != 0.0
    dream(cat, fast)
    assert float(tiny * 1.0) == 0.0


def test_measuring_memory_prints_nothing(model, capfd):
    """torch.profiler's backend writes to file descriptor 2 on every start and stop; a
    user's first dream (which measures) must not show those lines."""
    memory.peak_bytes(model, StepConfig(), 64)
    out, err = capfd.readouterr()
    assert out == "" and err == "", err


@pytest.mark.parametrize("radius", [1, 3, 4, 9])
def test_smoothing_by_fft_equals_by_convolution(radius):
    """The two ways of one blur agree on both sides of the radius that picks between them."""
    from dream_core import smoothing

    kernels = torch.stack([smoothing.gaussian_kernel(s, radius) for s in (0.4 * radius, 0.7 * radius, radius / 2.5)])
    x = torch.randn(1, 3, 37 + 2 * radius, 52 + 2 * radius, generator=torch.Generator().manual_seed(radius))
    conv = smoothing._blur_padded_conv(x, kernels)
    fft = smoothing._blur_padded_fft(x, kernels)
    assert conv.shape == fft.shape == (1, 3, 37, 52)
    assert torch.allclose(fft, conv, atol=1e-5), (fft - conv).abs().max()
    assert torch.equal(smoothing.blur_padded(x, kernels), fft if radius >= smoothing.FFT_MIN_RADIUS else conv)
