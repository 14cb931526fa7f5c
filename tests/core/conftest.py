"""Fixtures of the dream-core tests: the real bundled model, loaded once per session."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def model():
    """The real efficientnet-lite0 (bundled ImageNet weights), on CPU, cached by the registry."""
    from dream_core.models import get_model

    return get_model("efficientnet-lite0", "cpu")


@pytest.fixture(scope="session")
def cat(sample_image) -> Image.Image:
    """A 96 px version of the shared sample photo: big enough to dream, small enough to be quick."""
    img = sample_image.copy()
    img.thumbnail((96, 96))
    return img


@pytest.fixture(scope="session")
def fast():
    """Cheap but real dream parameters (one octave, three steps, fixed seed)."""
    from dream_core.params import DreamParams

    return DreamParams(octaves=1, iterations=3, seed=7)


@pytest.fixture(scope="session")
def googlenet_weights(tmp_path_factory):
    """A random-init GoogLeNet state dict (torchvision's keys and init) in a temp file (no download).

    Built from :class:`~dream_core.models._inception.GoogLeNetFeatures` (torchvision's layers and
    names, no classifier) rather than torchvision's own class, whose import alone (1.4 s) was most of
    this fixture. Conv weights follow torchvision's init (truncated normal, std 0.01); BatchNorm
    statistics are measured on two random batches so activations stay O(1) and dreams move.
    """
    from dream_core.models._inception import GoogLeNetFeatures

    torch.manual_seed(0)
    net = GoogLeNetFeatures()
    stages = [net.conv1, net.maxpool1, net.conv2, net.conv3, net.maxpool2, net.inception3a, net.inception3b,
              net.maxpool3, net.inception4a, net.inception4b, net.inception4c, net.inception4d, net.inception4e,
              net.maxpool4, net.inception5a, net.inception5b]  # fmt: skip
    for m in net.modules():
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)
        elif isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = None  # cumulative average over the calibration batches
    net.train()
    with torch.no_grad():
        for _ in range(2):
            x = torch.rand(2, 3, 96, 96)
            for stage in stages:
                x = stage(x)
    path = tmp_path_factory.mktemp("weights") / "googlenet-random.pth"
    torch.save(net.state_dict(), path)
    return path


@pytest.fixture
def tune_cache(tmp_path, monkeypatch):
    """A private autotune cache file, nothing remembered in memory, no speed setting from outside."""
    from dream_core import autotune

    path = tmp_path / "autotune.json"
    monkeypatch.setenv(autotune.CACHE_ENV, str(path))
    for env in (autotune.PRECISION_ENV, autotune.TILE_ENV, autotune.WINOGRAD_ENV):
        monkeypatch.delenv(env, raising=False)
    autotune.clear_memory_cache()
    yield path
    autotune.clear_memory_cache()


@pytest.fixture(params=["native", pytest.param("numba", marks=pytest.mark.slow)])
def loops_build(request, monkeypatch):
    """Each build of the compiled CPU loops in turn (:mod:`dream_core.models.cpu_loops`): the
    ahead-of-time one, and numba's (compiled on first use, so in the slow tier)."""
    from dream_core.models import cpu_loops

    if request.param == "native":
        try:
            import dream_core.models.native_loops  # noqa: F401
        except ImportError as exc:
            pytest.skip(f"the native loops are not built here: {exc}")
    monkeypatch.setattr(cpu_loops, "_chosen", request.param)
    return request.param
