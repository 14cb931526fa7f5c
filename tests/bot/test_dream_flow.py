"""End-to-end: /dream through the real discord.py client against the fake Discord."""

from __future__ import annotations

import pytest

from dream_core.params import STRENGTHS

pytestmark = pytest.mark.asyncio(loop_scope="session")


def result_done(m) -> bool:
    return bool(m.attachments) and any(c.startswith("dream:again:") for c in m.custom_ids())


async def dream(env, png, *, user=None, **options):
    fake, w = env.fake, env.world
    h = await fake.slash(
        "dream", options, user=user or w.alice, attachments={"image": (png, "cat.png", "image/png")}
    )
    return h


async def test_commands_are_synced(bot_env):
    fake = bot_env.fake
    dream = fake.command("dream")
    opts = {o["name"]: o for o in dream["options"]}
    assert [c["value"] for c in opts["strength"]["choices"]] == list(STRENGTHS)
    assert opts["layer"].get("autocomplete") and opts["preset"].get("autocomplete")
    assert fake.command("Dream this image", type=3)
    admin = fake.command("dreamadmin")
    assert int(admin["default_member_permissions"]) & (1 << 5)  # manage_guild


async def test_dream_with_attachment(bot_env, small_png):
    env = bot_env
    h = await dream(env, small_png, layer="mixed3", strength="low")
    assert h.callback.type == 5 and not h.callback.ephemeral
    assert h.ack_delay < 3
    msg = await h.wait_for_original(result_done, timeout=90)
    img = msg.image()
    assert img.size[0] > 0 and max(img.size) <= 96
    texts = [v.content for v in msg.history]
    assert any("queue" in t or "Dreaming" in t for t in texts), texts
    assert "mixed3" in msg.text and "low" in msg.text
    dream_id = int(next(c for c in msg.custom_ids() if c.startswith("dream:again:")).rsplit(":", 1)[1])
    info = await env.store.get_dream(dream_id)
    assert info.status.value == "done" and info.result is not None
    assert info.user_id == env.world.alice.id and info.seconds is not None
    assert info.started_at is not None and info.finished_at is not None
    assert env.store.files.exists(info.result.sha256)
    assert not env.fake.bot_errors
