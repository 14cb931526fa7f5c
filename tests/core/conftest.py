"""Fixtures of the dream-core tests: the real bundled model, loaded once per session."""

from __future__ import annotations

import io

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


def png_bytes(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", **kw)
    return buf.getvalue()
