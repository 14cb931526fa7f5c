"""Pytest fixture for other test areas: ``from tests.fakediscord.fixtures import fake_discord``.

The fixture runs in the session event loop (like the project's other async
fixtures); tests using it need ``pytestmark = pytest.mark.asyncio(loop_scope="session")``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from .server import FakeDiscord


@pytest_asyncio.fixture(loop_scope="session")
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    """A started :class:`FakeDiscord` with ``setup_world()`` done (see ``fake.world``).

    At teardown it fails the test if the bot used a route the fake does not implement.
    """
    async with FakeDiscord() as fake:
        fake.setup_world()
        yield fake
        assert not fake.unhandled_routes, f"bot used routes the fake lacks: {fake.unhandled_routes}"
