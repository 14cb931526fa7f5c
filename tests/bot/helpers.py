"""Small helpers shared by the bot's end-to-end tests."""

from __future__ import annotations

from typing import Any


def result_done(message: Any) -> bool:
    """A message holding a finished dream: a picture and the result buttons."""
    return bool(message.attachments) and any(c.startswith("dream:again:") for c in message.custom_ids())


def dream_id_of(message: Any) -> int:
    """The dream id carried by a result message's buttons."""
    return int(next(c for c in message.custom_ids() if c.startswith("dream:again:")).rsplit(":", 1)[1])


async def dream(env: Any, png: bytes, *, user: Any = None, **options: Any) -> Any:
    """``/dream image:<png> **options`` as ``user`` (default alice); returns the interaction handle."""
    return await env.fake.slash(
        "dream", options, user=user or env.world.alice, attachments={"image": (png, "cat.png", "image/png")}
    )


async def finished_dream(env: Any, png: bytes, **options: Any) -> tuple[Any, Any, int]:
    """Run ``/dream`` to the end: ``(handle, result message, dream id)``."""
    h = await dream(env, png, **options)
    msg = await h.wait_for_original(result_done, timeout=90)
    return h, msg, dream_id_of(msg)
