"""End-to-end: /dream through the real discord.py client against the fake Discord."""

from __future__ import annotations

import hashlib
import re

import pytest

from bot.store import NotFound
from dream_core.params import STRENGTHS
from tests.bot.helpers import dream, dream_id_of, finished_dream, result_done

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_commands_are_synced(bot_env):
    fake = bot_env.fake
    command = fake.command("dream")
    opts = {o["name"]: o for o in command["options"]}
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
    metrics = env.bot.metrics.render().decode()
    done = re.search(r'dreambot_jobs_total\{status="done"\} ([0-9.]+)', metrics)
    assert done and float(done.group(1)) >= 1
    assert "dreambot_discord_interaction_seconds_count" in metrics
    assert not env.fake.bot_errors


async def test_result_buttons_again_deeper_save_publish_delete(bot_env, small_png):
    env = bot_env
    fake, w = env.fake, env.world
    _, msg, dream_id = await finished_dream(env, small_png, layer="mixed4", seed=7)
    first = await env.store.get_dream(dream_id)
    assert first.seed == 7
    assert set(msg.custom_ids()) >= {f"dream:{a}:{dream_id}" for a in ("again", "deeper", "save", "publish", "delete")}

    # Dream again: anyone may press it; a new message, a new seed, the same picture.
    again = await fake.click(msg, f"dream:again:{dream_id}", user=w.bob)
    assert again.callback.type == 5 and again.ack_delay < 3
    again_msg = await again.wait_for_original(result_done, timeout=90)
    again_info = await env.store.get_dream(dream_id_of(again_msg))
    assert again_info.user_id == w.bob.id and again_info.status.value == "done"
    assert again_info.seed != 7 and again_info.source.sha256 == first.source.sha256

    # Deeper: dreams the result.
    deeper = await fake.click(msg, f"dream:deeper:{dream_id}", user=w.alice)
    deeper_msg = await deeper.wait_for_original(result_done, timeout=90)
    deeper_info = await env.store.get_dream(dream_id_of(deeper_msg))
    assert deeper_info.source.sha256 == first.result.sha256

    # Save as preset: a modal asks the name.
    save = await fake.click(msg, f"dream:save:{dream_id}", user=w.alice)
    assert save.callback.type == 9 and save.modal is not None
    submitted = await save.submit_modal({"name": "from-button"})
    assert submitted.callback.ephemeral and "from-button" in submitted.text
    preset = await env.store.get_preset(w.alice.id, "from-button")
    assert preset.params.layer == "mixed4" and preset.params.seed is None

    # Publish: only the owner.
    refused = await fake.click(msg, f"dream:publish:{dream_id}", user=w.bob)
    assert refused.callback.ephemeral and "Only" in refused.text
    published = await fake.click(msg, f"dream:publish:{dream_id}", user=w.alice)
    assert published.callback.ephemeral and "Published" in published.text
    assert await env.store.find_entry(w.guild.id, dream_id) is not None

    # Delete: only the owner; the message goes away and so does the gallery entry.
    refused = await fake.click(msg, f"dream:delete:{dream_id}", user=w.bob)
    assert refused.callback.ephemeral and not msg.deleted
    assert "Only the person who dreamed this can delete it" in refused.text  # the interaction_check
    deleted = await fake.click(msg, f"dream:delete:{dream_id}", user=w.alice)
    assert deleted.callback.ephemeral
    await fake.wait_for(lambda: msg.deleted, timeout=10)
    assert await env.store.find_entry(w.guild.id, dream_id) is None
    with pytest.raises(NotFound):  # the history row goes too
        await env.store.get_dream(dream_id)
    assert not fake.bot_errors and not fake.unhandled_routes


async def test_cancel_button_while_running(bot_env, small_png):
    env = bot_env
    fake, w = env.fake, env.world
    h = await dream(env, small_png, iterations=400, octaves=3)

    def cancel_shown(m) -> bool:
        return any(c.startswith("dream:cancel:") for c in m.custom_ids()) and "Dreaming" in m.content

    msg = await h.wait_for_original(cancel_shown, timeout=60)
    cancel_id = next(c for c in msg.custom_ids() if c.startswith("dream:cancel:"))
    dream_id = int(cancel_id.rsplit(":", 1)[1])
    other = await fake.click(msg, cancel_id, user=w.bob)
    assert other.callback.ephemeral and "Only the person who started this dream" in other.text  # not bob's
    click = await fake.click(msg, cancel_id, user=w.alice)
    assert click.callback.type == 6  # deferred update, no new message
    final = await h.wait_for_original(lambda m: "cancelled" in m.content, timeout=30)
    assert not final.custom_ids() and not final.attachments
    info = await env.store.get_dream(dream_id)
    assert info.status.value == "cancelled"
    # the progress bar moved and edits were throttled (not one per step)
    progress = [v.content for v in final.history if "Dreaming" in v.content]
    assert progress and len(final.history) < 60


async def test_two_users_at_once(bot_env, small_png):
    import asyncio

    env = bot_env
    w = env.world
    ha, hb = await asyncio.gather(
        dream(env, small_png, user=w.alice, layer="mixed3"), dream(env, small_png, user=w.bob, layer="mixed5")
    )
    ma, mb = await asyncio.gather(
        ha.wait_for_original(result_done, timeout=120), hb.wait_for_original(result_done, timeout=120)
    )
    da, db = await env.store.get_dream(dream_id_of(ma)), await env.store.get_dream(dream_id_of(mb))
    assert (da.user_id, db.user_id) == (w.alice.id, w.bob.id)
    assert "mixed3" in ma.text and "mixed5" in mb.text
    assert ma.image() and mb.image()


async def test_dream_latest_channel_image_and_noise(bot_env, small_png):
    env = bot_env
    fake, w = env.fake, env.world
    await fake.post_message(w.gallery, "look at this", user=w.bob, attachments=[(small_png, "dog.png")])
    h = await fake.slash("dream", {}, user=w.alice, channel=w.gallery)
    assert h.callback.type == 5
    msg = await h.wait_for_original(result_done, timeout=90)
    info = await env.store.get_dream(dream_id_of(msg))
    assert info.source is not None and info.source_url.endswith("dog.png")

    noise = await fake.slash("dream", {"noise": True}, user=w.alice, channel=w.gallery)
    msg = await noise.wait_for_original(result_done, timeout=90)
    info = await env.store.get_dream(dream_id_of(msg))
    assert info.source is None and max(msg.image().size) <= 96


async def test_no_image_anywhere_is_an_ephemeral_hint(bot_env):
    fake, w = bot_env.fake, bot_env.world
    empty = fake.add_channel(w.guild, "empty")
    await fake.wait_for(lambda: bot_env.bot.get_channel(empty.id), timeout=10)
    h = await fake.slash("dream", {}, user=w.alice, channel=empty)
    assert h.callback.type == 4 and h.callback.ephemeral
    assert "image_url" in h.text and "noise" in h.text


async def test_context_menu_uses_default_preset(bot_env, small_png):
    env = bot_env
    fake, w = env.fake, env.world
    h = await fake.slash("preset save", {"name": "menu-style", "layer": "mixed5", "strength": "high"}, user=w.bob)
    assert h.callback.ephemeral
    h = await fake.slash("preset default", {"name": "menu-style"}, user=w.bob)
    assert "menu-style" in h.text
    posted = await fake.post_message(w.general, "", user=w.alice, attachments=[(small_png, "pic.png")])
    h = await fake.message_command("Dream this image", posted, user=w.bob)
    assert h.callback.type == 5
    msg = await h.wait_for_original(result_done, timeout=90)
    info = await env.store.get_dream(dream_id_of(msg))
    assert info.params.layer == "mixed5" and info.params.strength == "high"
    # a message without a picture
    text_only = await fake.post_message(w.general, "no picture here", user=w.alice)
    h = await fake.message_command("Dream this image", text_only, user=w.bob)
    assert h.callback.ephemeral and "no picture" in h.text


async def test_late_result_goes_to_the_channel(bot_env, small_png):
    env = bot_env
    fake, w = env.fake, env.world
    old = env.settings.followup_window_s
    env.settings.followup_window_s = 0.0  # as if the 15 minutes had passed
    try:
        before = len(fake.bot_messages(w.general))
        h = await dream(env, small_png)
        assert h.callback.type == 5
        await fake.wait_for(
            lambda: any(result_done(m) for m in fake.bot_messages(w.general)[before:]), timeout=90
        )
        late = [m for m in fake.bot_messages(w.general)[before:] if result_done(m)][-1]
        assert late.webhook_id is None and "ready" in late.content
    finally:
        env.settings.followup_window_s = old


async def test_buttons_work_after_a_restart(bot_env, small_png):
    env = bot_env
    fake, w = env.fake, env.world
    _, msg, dream_id = await finished_dream(env, small_png, layer="mixed3")
    slow = await dream(env, small_png, iterations=400, octaves=3)
    await slow.wait_for_original(lambda m: "Dreaming" in m.content, timeout=60)
    old_bot = env.bot
    new_bot = await env.restart()
    assert new_bot is not old_bot and old_bot.is_closed()
    # the dream that was running when the bot stopped was handed to the next start,
    # which resumed it in the same message
    assert any("restarting" in v.content and not v.components for v in slow.original.history)
    await slow.wait_for_original(lambda m: "Resumed after a restart" in m.content, timeout=60)
    resumed = (await env.store.list_history(w.alice.id, page_size=1)).items[0]
    assert resumed.status.value in ("queued", "running")
    # its Cancel button works as before: not for another user, for its dreamer
    refused = await fake.click(slow.original, f"dream:cancel:{resumed.id}", user=w.bob)
    assert refused.callback.ephemeral and "Only the person who started this dream" in refused.text
    await fake.click(slow.original, f"dream:cancel:{resumed.id}", user=w.alice)
    await slow.wait_for_original(lambda m: "cancelled" in m.content, timeout=60)
    assert (await env.store.get_dream(resumed.id)).status.value == "cancelled"
    again = await fake.click(msg, f"dream:again:{dream_id}", user=w.bob)
    assert again.callback.type == 5
    again_msg = await again.wait_for_original(result_done, timeout=90)
    assert (await env.store.get_dream(dream_id_of(again_msg))).status.value == "done"
    save = await fake.click(msg, f"dream:save:{dream_id}", user=w.bob)
    assert save.modal is not None
    assert not fake.bot_errors and not fake.unhandled_routes


async def test_animation_with_guide_and_kept_colours(bot_env, small_png):
    from tests.images import png_bytes

    env = bot_env
    fake, w = env.fake, env.world
    h = await fake.slash(
        "dream",
        {"zoom_frames": 3, "keep_colors": True},
        user=w.alice,
        attachments={
            "image": (small_png, "cat.png", "image/png"),
            "guide": (png_bytes(colour=(20, 90, 220)), "guide.png", "image/png"),
        },
    )
    msg = await h.wait_for_original(result_done, timeout=120)
    assert msg.attachments[0].filename.endswith(".webp")
    assert getattr(msg.image(), "n_frames", 1) >= 3
    info = await env.store.get_dream(dream_id_of(msg))
    assert info.is_animation and info.params.zoom_frames == 3 and info.params.keep_colors
    too_long = await fake.slash("dream", {"zoom_frames": env.settings.max_zoom_frames + 1}, user=w.alice,
                                attachments={"image": (small_png, "cat.png", "image/png")})
    assert too_long.callback.ephemeral and f"at most {env.settings.max_zoom_frames}" in too_long.text


async def test_again_and_deeper_keep_the_guide(bot_env, small_png, monkeypatch):
    """A guided dream's buttons dream with the same guide: the executor gets its bytes and
    the new dreams record it; a guide file that is gone is left out, and the result says so."""
    from dream_core.images import read_guide
    from tests.images import png_bytes

    env = bot_env
    fake, w = env.fake, env.world
    guide_png = png_bytes(colour=(30, 200, 90))
    submitted: list = []
    executor = env.bot.executor
    real_submit = executor.submit

    async def recording_submit(image_bytes, params, **kwargs):  # a pass-through spy, not a mock
        submitted.append(kwargs.get("guide_bytes"))
        return await real_submit(image_bytes, params, **kwargs)

    monkeypatch.setattr(executor, "submit", recording_submit)
    h = await fake.slash(
        "dream",
        {"seed": 3},
        user=w.alice,
        attachments={
            "image": (small_png, "cat.png", "image/png"),
            "guide": (guide_png, "guide.png", "image/png"),
        },
    )
    msg = await h.wait_for_original(result_done, timeout=90)
    first = await env.store.get_dream(dream_id_of(msg))
    assert first.guide is not None and env.store.files.read(first.guide.sha256) == guide_png
    assert submitted == [guide_png]
    # the posted PNG names its guide, as the CLI's do
    recorded = read_guide(env.store.files.read(first.result.sha256))
    assert recorded is not None and recorded["sha256"] == hashlib.sha256(guide_png).hexdigest()

    again = await fake.click(msg, f"dream:again:{first.id}", user=w.bob)
    again_info = await env.store.get_dream(dream_id_of(await again.wait_for_original(result_done, timeout=90)))
    assert again_info.guide == first.guide and again_info.source == first.source
    deeper = await fake.click(msg, f"dream:deeper:{first.id}", user=w.alice)
    deeper_info = await env.store.get_dream(dream_id_of(await deeper.wait_for_original(result_done, timeout=90)))
    assert deeper_info.guide == first.guide and deeper_info.source.sha256 == first.result.sha256
    assert submitted == [guide_png] * 3

    # the guide file is lost: "Dream again" still dreams, without it, and says so
    assert env.store.files.delete(first.guide.sha256)
    lost = await fake.click(msg, f"dream:again:{first.id}", user=w.alice)
    lost_msg = await lost.wait_for_original(result_done, timeout=90)
    lost_info = await env.store.get_dream(dream_id_of(lost_msg))
    assert lost_info.status.value == "done" and lost_info.guide is None
    assert "guide picture is gone" in lost_msg.text
    assert submitted == [guide_png] * 3 + [None]
    assert "guide" not in again.original.text  # no such note while the guide is there
    assert not fake.bot_errors and not fake.unhandled_routes


async def test_sharded_bot(bot_env, small_png):
    from bot.app import ShardedDreamBot

    env = bot_env
    fake, w = env.fake, env.world
    try:
        bot = await env.restart(env.settings.model_copy(update={"shard_count": 2}))
        assert isinstance(bot, ShardedDreamBot) and bot.shard_count == 2
        h = await fake.slash("help", user=w.bob)
        assert h.callback.ephemeral and "/dream" in h.text
        _, msg, dream_id = await finished_dream(env, small_png)
        assert (await env.store.get_dream(dream_id)).status.value == "done"
    finally:
        await env.restart()
    assert type(env.bot) is not ShardedDreamBot


async def test_progress_message_deleted_mid_dream(bot_env, small_png):
    """A moderator deletes the progress message: the result still reaches the channel."""
    env = bot_env
    fake, w = env.fake, env.world
    before = len(fake.bot_messages(w.general))
    h = await dream(env, small_png, iterations=60, octaves=2)
    progress = await h.wait_for_original(lambda m: "Dreaming" in m.content, timeout=60)
    await fake.delete_message(progress)
    await fake.wait_for(
        lambda: any(result_done(m) and not m.deleted for m in fake.bot_messages(w.general)[before:]), timeout=90
    )
    assert not fake.bot_errors and not fake.unhandled_routes
