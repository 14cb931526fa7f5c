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
    """A random-init torchvision GoogLeNet state dict in a temp file (no download).

    Conv weights are torchvision's random init; BatchNorm statistics are
    measured on two random batches so activations stay O(1) and dreams move.
    """
    from torchvision.models import googlenet

    torch.manual_seed(0)
    net = googlenet(weights=None, aux_logits=False, init_weights=True)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = None  # cumulative average over the calibration batches
    net.train()
    with torch.no_grad():
        for _ in range(2):
            net(torch.rand(2, 3, 96, 96))
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
