"""Fixtures shared by every test area (core, store, executor, bot, web), and the fast tier.

Area-specific fixtures live in ``tests/<area>/conftest.py``.

The fast tier, ``pytest -m "not slow"``, leaves out the ``slow`` tests: those marked
``@pytest.mark.slow`` (other processes, large images) and, marked here by the fixtures
they use, every test that starts executor workers or Ray (``executor``, ``bot_env``)
or drives Chromium (``browser``).
"""

from __future__ import annotations

import os
import tempfile

import pytest

from tests.images import png_bytes

# Two cores on CI: keep torch from oversubscribing them (workers inherit this).
os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("DREAMBOT_LOG_LEVEL", "WARNING")
# The suite's speed measurements (tuned under test load) never reach the user's cache:
# one cache file for this run, shared by the workers it starts.
os.environ.setdefault(
    "DREAMBOT_AUTOTUNE_CACHE", os.path.join(tempfile.mkdtemp(prefix="dreambot-test-"), "autotune.json")
)

# Atlas renders of the suite (tiny sizes, few steps) never reach the user's render cache.
os.environ.setdefault("DREAMBOT_ATLAS_DIR", os.path.join(tempfile.mkdtemp(prefix="dreambot-test-"), "atlas"))


#: fixture -> why a test that uses it (directly or through another fixture) is slow
SLOW_FIXTURES = {
    "executor": "starts executor workers (local processes or Ray actors)",
    "bot_env": "starts the bot with a real executor worker",
    "browser": "drives Chromium",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tests that use a slow fixture as ``slow``."""
    for item in items:
        if any(name in SLOW_FIXTURES for name in getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def sample_image():
    """A small real photograph (PIL RGB), 160 px wide."""
    from PIL import Image
    from skimage import data

    img = Image.fromarray(data.chelsea()).convert("RGB")
    img.thumbnail((160, 160))
    return img


@pytest.fixture(scope="session")
def sample_png(sample_image) -> bytes:
    """``sample_image`` encoded as PNG bytes."""
    return png_bytes(sample_image)


@pytest.fixture(scope="session")
def small_png(sample_image) -> bytes:
    """The shared sample photo at 96 px (fast dreams)."""
    img = sample_image.copy()
    img.thumbnail((96, 96))
    return png_bytes(img)


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """A fresh DREAMBOT_DATA_DIR for one test (settings cache cleared)."""
    from bot.settings import get_settings

    d = tmp_path / "data"
    d.mkdir()
    monkeypatch.setenv("DREAMBOT_DATA_DIR", str(d))
    monkeypatch.delenv("DREAMBOT_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield d
    get_settings.cache_clear()
