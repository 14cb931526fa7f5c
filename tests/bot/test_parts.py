"""The bot's small parts on their own: progress throttling, upload fitting, image checks,
autocomplete suggestions, preset settings parsing, and start-up errors."""

from __future__ import annotations

import asyncio
import io
import time

import numpy as np
import pytest
from PIL import Image

from bot.attachments import ImageLimits, ImageRejected, check_image_bytes
from bot.autocomplete import layer_suggestions
from bot.progress import ProgressReporter, ProgressState, progress_bar, render_progress
from bot.upload import fit_upload
from tests.bot.conftest import make_settings
from tests.images import png_bytes

session_loop = pytest.mark.asyncio(loop_scope="session")


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@session_loop
async def test_progress_edits_are_throttled_and_deduplicated():
    clock = FakeClock()
    edits: list[str] = []

    async def edit(text: str, preview):
        edits.append(text)

    reporter = ProgressReporter(edit, min_interval=1.5, clock=clock)
    await reporter.update(ProgressState(stage="queued", position=2))
    assert len(edits) == 1 and "position **2**" in edits[0]
    for i in range(20):  # a burst of steps inside one interval: no edit now
        await reporter.update(ProgressState(stage="running", fraction=i / 20))
    assert len(edits) == 1
    clock.now += 1.6
    await reporter.update(ProgressState(stage="running", fraction=0.5, eta_s=10))
    assert len(edits) == 2 and "50%" in edits[1] and "~10 s left" in edits[1]
    clock.now += 5
    await reporter.update(ProgressState(stage="running", fraction=0.5, eta_s=10))  # same text: no edit
    assert len(edits) == 2
    await reporter.close()


@session_loop
async def test_progress_pending_state_is_flushed_after_the_interval():
    edits: list[str] = []

    async def edit(text: str, preview):
        edits.append(text)

    reporter = ProgressReporter(edit, min_interval=0.2)
    await reporter.update(ProgressState(stage="running", fraction=0.1))
    await reporter.update(ProgressState(stage="running", fraction=0.9))
    assert len(edits) == 1
    await asyncio.sleep(0.4)
    assert len(edits) == 2 and "90%" in edits[1]
    await reporter.close()
    await reporter.update(ProgressState(stage="running", fraction=1.0))
    assert len(edits) == 2  # closed: no more edits


@session_loop
async def test_a_hanging_progress_edit_never_holds_the_dream_up():
    """Discord down: discord.py retries an edit for ~25 s. The dream's progress goes on
    (states are coalesced behind the edit in flight) and close() abandons the edit."""
    started: list[str] = []
    release = asyncio.Event()

    async def edit(text: str, preview):
        started.append(text)
        await release.wait()

    reporter = ProgressReporter(edit, min_interval=0.0, inline_wait_s=0.05, close_wait_s=0.1)
    t0 = time.monotonic()
    for i in range(10):
        await reporter.update(ProgressState(stage="running", fraction=i / 10))
    assert time.monotonic() - t0 < 1.0 and len(started) == 1  # one edit in flight, nine states waiting
    await reporter.close()
    assert time.monotonic() - t0 < 1.5
    release.set()
    await asyncio.sleep(0.05)
    assert len(started) == 1  # nothing after close


def test_render_progress_texts():
    assert progress_bar(0.5, 10) == "▰" * 5 + "▱" * 5
    assert "next" in render_progress(ProgressState(stage="queued", position=1))
    lost = "The worker running this dream was lost (its Ray actor died); it is starting again on another worker."
    assert render_progress(ProgressState(stage="queued", position=1, waiting=lost)) == f"⏳ {lost}"
    assert render_progress(ProgressState(stage="queued", position=3, waiting=lost, label="x")).endswith(
        "Position **3** in the queue.\n-# x"
    )
    resumed = render_progress(ProgressState(stage="running", fraction=0.5, note="🔁 Resumed after a restart."))
    assert resumed.startswith("🔁 Resumed after a restart.\n🌀 Dreaming…") and "50%" in resumed
    text = render_progress(ProgressState(stage="running", fraction=0.25, octave=1, octaves=3, eta_s=200, label="x"))
    assert "25%" in text and "octave 1/3" in text and "~3 min left" in text and text.endswith("x")
    assert "frame" not in text  # a still
    clip = render_progress(ProgressState(stage="running", fraction=0.3, octave=1, octaves=1, frame=12, frames=40))
    assert "frame 12/40" in clip and "octave 1/1" in clip


def test_fit_upload_reencodes_then_downscales():
    noise = (np.random.default_rng(0).random((400, 400, 3)) * 255).astype("uint8")
    buf = io.BytesIO()
    Image.fromarray(noise).save(buf, format="PNG")
    data = buf.getvalue()
    assert fit_upload(data, "png", len(data)).data is data  # fits: untouched
    for limit in (len(data) // 4, 20_000):
        up = fit_upload(data, "png", limit)
        assert up.reencoded and up.size <= limit and up.extension in ("webp", "jpg")
        assert Image.open(io.BytesIO(up.data)).size[0] <= 400
    tiny = fit_upload(data, "png", 20_000)
    assert Image.open(io.BytesIO(tiny.data)).size[0] < 400  # had to downscale


def test_check_image_bytes():
    limits = ImageLimits(max_bytes=100_000, max_pixels=100 * 100)
    assert check_image_bytes(png_bytes((80, 60)), "ok.png", limits) == (80, 60)
    cases = [
        (b"", "empty"),
        (b"not an image at all", "can't read"),
        (png_bytes((200, 200)), "megapixels"),
        (png_bytes((80, 60))[:60], "damaged"),
        (b"\0" * 200_000, "limit"),
    ]
    for data, expect in cases:
        with pytest.raises(ImageRejected, match=expect):
            check_image_bytes(data, "x.png", limits)


def test_layer_suggestions():
    assert layer_suggestions("efficientnet-lite0", "")[:3] == ["mixed3", "mixed4", "mixed5"]
    assert layer_suggestions("efficientnet-lite0", "block1")[0] == "block1"
    sug = layer_suggestions("efficientnet-lite0", "mixed3:7")
    assert sug[0] == "mixed3:7" and all(s.startswith("mixed3:7") for s in sug)
    assert layer_suggestions("efficientnet-lite0", "MIXED4+mix")[0] == "MIXED4+mixed3"
    assert layer_suggestions("no-such-model", "mix") == []
    assert len(layer_suggestions("efficientnet-lite0", "head:")) == 25


def test_preset_more_settings_parse():
    from bot.cogs.presets import params_summary, parse_more
    from bot.replies import UserError
    from dream_core.params import DreamParams

    assert parse_more("octaves=3 keep-colors=true") == {"octaves": "3", "keep_colors": "true"}
    with pytest.raises(UserError, match="no setting"):
        parse_more("octopus=1")
    with pytest.raises(UserError, match="name=value"):
        parse_more("octaves")
    assert "`octaves`: 3" in params_summary(DreamParams(octaves=3))


@session_loop
async def test_missing_token_is_one_clear_line(data_dir, monkeypatch, capsys):
    from bot.cli import main

    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    monkeypatch.delenv("DREAMBOT_DISCORD_TOKEN", raising=False)
    assert await asyncio.to_thread(main, ["run"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "DISCORD_TOKEN is not set" in err


@session_loop
async def test_wrong_token_is_one_clear_line(bot_env, tmp_path):
    """A token Discord (here: the fake) rejects ends as BotStartError before any worker starts."""
    from bot.runner import WRONG_TOKEN, BotStartError, serve_bot

    settings = make_settings(tmp_path / "data", DISCORD_TOKEN="not-the-right-token")
    with pytest.raises(BotStartError) as exc:
        await serve_bot(settings)
    assert str(exc.value) == WRONG_TOKEN and "\n" not in str(exc.value)


def test_sharding_follows_the_settings(tmp_path):
    from bot.app import DreamBot, ShardedDreamBot, create_bot

    plain = create_bot(make_settings(tmp_path), store=None, files=None, executor=None)
    assert type(plain) is DreamBot
    auto = create_bot(make_settings(tmp_path, sharded=True), store=None, files=None, executor=None)
    assert isinstance(auto, ShardedDreamBot) and auto.shard_count is None
    fixed = create_bot(make_settings(tmp_path, shard_count=3), store=None, files=None, executor=None)
    assert isinstance(fixed, ShardedDreamBot) and fixed.shard_count == 3
    assert not plain.intents.members and plain.intents.message_content
    quiet = create_bot(make_settings(tmp_path, message_content_intent=False), store=None, files=None, executor=None)
    assert not quiet.intents.message_content


@session_loop
async def test_web_gallery_starts_and_stops_with_the_bot(bot_env):
    """settings.web_enabled: the gallery is served by the bot's process and stopped on close."""
    import aiohttp

    from bot.runner import build_bot

    env = bot_env
    settings = env.settings.model_copy(update={"web_enabled": True, "web_port": 0})
    bot = await build_bot(settings, store=env.store, executor=env.executor)
    for hook in bot._start_hooks:  # what setup_hook does before loading the cogs
        await hook()
    port = bot.web_runner.addresses[0][1]
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/healthz") as resp:
        assert resp.status in (200, 503)
        assert "store" in await resp.text()
    runner = bot.web_runner
    await bot.close()
    assert not runner.sites and bot.web_runner is None  # cleaned up


def test_every_button_is_template_dispatched():
    """No message needs a view kept in memory: all items are DynamicItems (persistent across restarts)."""
    from discord import ui

    from bot.views import DYNAMIC_ITEMS, VoteButton, cancel_view, pager_row, result_view

    views = [result_view(1), cancel_view(2), pager_row(ui.View(timeout=None), "top", 3, 1, 4, extra=[VoteButton(5, 2)])]
    for view in views:
        assert view.is_persistent()
        assert all(isinstance(item, DYNAMIC_ITEMS) for item in view.children), view.children
        for item in view.children:
            assert len(item.custom_id) <= 100


def test_fit_upload_keeps_animations_animated():
    rng = np.random.default_rng(1)
    frames = [Image.fromarray((rng.random((200, 200, 3)) * 255).astype("uint8")) for _ in range(4)]
    buf = io.BytesIO()
    frames[0].save(buf, format="WEBP", save_all=True, append_images=frames[1:], duration=80, lossless=True)
    data = buf.getvalue()
    up = fit_upload(data, "webp", len(data) // 5)
    assert up.reencoded and up.size <= len(data) // 5 and up.extension == "webp"
    assert Image.open(io.BytesIO(up.data)).n_frames == 4


@session_loop
async def test_build_bot_upgrades_the_database_and_claims_interrupted_dreams(tmp_path):
    from bot.runner import build_bot
    from bot.store import Store
    from bot.store.migrate import current, head

    settings = make_settings(tmp_path / "data")
    store = await Store.open(settings)
    stuck = await store.create_dream(1, {"layer": "mixed4"})
    await store.mark_running(stuck.id)  # ...and then the process died
    await store.close()

    bot = await build_bot(settings)  # its own store and (not yet started) executor
    try:
        assert current(settings.resolved_database_url) == head()
        info = await bot.store.get_dream(stuck.id)  # to be resumed once connected; one interruption counted
        assert info.status.value == "queued" and info.interruptions == 1
        assert not bot.executor.status().running  # workers start only in setup_hook, after login
    finally:
        await bot.close()


def test_bad_dream_defaults_fail_fast(tmp_path):
    from bot.runner import BotStartError, check_dream_defaults

    check_dream_defaults(make_settings(tmp_path))
    with pytest.raises(BotStartError, match="DREAMBOT_DEFAULT_PARAMS: octaves"):
        check_dream_defaults(make_settings(tmp_path, default_params={"octaves": 99}))
    with pytest.raises(BotStartError, match="DREAMBOT_DEFAULT_PARAMS: layer"):
        check_dream_defaults(make_settings(tmp_path, default_params={"layer": "mixed9"}))
    with pytest.raises(BotStartError, match="DREAMBOT_DEFAULT_MODEL"):
        check_dream_defaults(make_settings(tmp_path, default_model="alexnet"))


def test_clip_limits_follow_the_settings(tmp_path):
    from bot.clip_input import clip_limits
    from bot.limits import DreamLimits
    from tests.bot.conftest import make_settings

    settings = make_settings(tmp_path, max_input_frames=12, max_clip_seconds=9.5, max_clip_side=256,
                             max_pixels=1_000_000)
    limits = DreamLimits(settings).image_limits.clip
    assert limits == clip_limits(settings)
    assert (limits.max_frames, limits.max_seconds, limits.max_side) == (12, 9.5, 256)
    assert limits.max_frame_pixels == 1_000_000  # no source frame larger than a picture may be
    assert limits.max_dream_pixels == 12 * 256 * 192  # the dream budget follows frames and side


def test_a_tenor_gif_in_a_message_is_its_mp4_clip():
    from types import SimpleNamespace

    import discord

    from bot.attachments import image_in_message

    gifv = discord.Embed.from_dict({
        "type": "gifv", "url": "https://tenor.com/view/cat-123",
        "thumbnail": {"url": "https://media.tenor.com/abc/AAAAe/cat.png"},
        "video": {"url": "https://media.tenor.com/abc/AAAPo/cat.mp4"},
    })
    ref = image_in_message(SimpleNamespace(attachments=[], embeds=[gifv]))  # type: ignore[arg-type]
    assert ref is not None and ref.url.endswith("/cat.mp4") and ref.filename == "cat.mp4"
    picture = discord.Embed.from_dict({"type": "image", "thumbnail": {"url": "https://example.com/a/b.png"}})
    ref = image_in_message(SimpleNamespace(attachments=[], embeds=[picture]))  # type: ignore[arg-type]
    assert ref is not None and ref.filename == "b.png"


def test_dream_core_settings_in_dotenv_reach_the_environment(tmp_path, monkeypatch):
    """`.env` holds every setting (README): the dream core's own (read by the workers from the
    environment) are exported, and a variable already set keeps its value."""
    from bot.settings import export_dotenv

    env = tmp_path / ".env"
    env.write_text("DREAMBOT_ATLAS_DIR=/srv/atlas\nDREAMBOT_PRECISION=fp32\nDISCORD_TOKEN=x\nOTHER=1\n")
    monkeypatch.delenv("DREAMBOT_ATLAS_DIR", raising=False)
    monkeypatch.setenv("DREAMBOT_PRECISION", "bf16")
    assert export_dotenv(env) == ["DREAMBOT_ATLAS_DIR"]
    import os

    assert os.environ["DREAMBOT_ATLAS_DIR"] == "/srv/atlas" and os.environ["DREAMBOT_PRECISION"] == "bf16"
    assert "OTHER" not in os.environ
    monkeypatch.delenv("DREAMBOT_ATLAS_DIR")
