"""Fixtures of the web gallery tests: a real store (SQLite file through the real
migrations, real image files) seeded with a few galleries, and the real app
served on 127.0.0.1 by aiohttp.

Everything runs on the session event loop (the web test modules mark their
tests ``loop_scope="session"``), so the server, the store and the browser
share one loop.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import aiohttp
import pytest
import pytest_asyncio
from PIL import Image, ImageFilter, ImageOps

from dream_core.params import DreamParams
from tests.web.atlas_support import serve_atlas

PAGE_SIZE = 4
REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts"

PUBLIC_GUILD = 111_000_000_000_000_001
UNLISTED_GUILD = 111_000_000_000_000_002
OFF_GUILD = 111_000_000_000_000_003
LONG_GUILD = 111_000_000_000_000_004  # hostile text: names and titles 100 characters unbroken, bidi controls
CLIP_GUILD = 111_000_000_000_000_005  # dreamed clips (issue 12): a GIF and a WebM

ALICE = 222_000_000_000_000_001
BOB = 222_000_000_000_000_002
MALLORY = 222_000_000_000_000_003  # display name tries to inject markup
OPTED_OUT = 222_000_000_000_000_004
VOTERS = [333_000_000_000_000_000 + i for i in range(1, 8)]

EVIL_NAME = '<script>alert("x")</script><img src=x onerror=alert(1)>'
LONG_TITLE = "Supercalifragilistic" * 5  # 100 characters, no break opportunity
LONG_NAME = "W" * 100
LONG_GUILD_NAME = "Gallery" + "M" * 93
RLO, PDF = "\u202e", "\u202c"
BIDI_NAME = f"{RLO}evil{PDF} name {RLO}gnp.exe"
BIDI_TITLE = f"{RLO}desrever{PDF} title and {RLO}more"


@dataclass
class Seeded:
    """Ids of what :func:`seeded` put in the store (gallery entry ids unless noted)."""

    public_entries: list[int] = field(default_factory=list)  # visible in the public gallery, newest last
    votes: dict[int, int] = field(default_factory=dict)  # entry id -> votes
    animated_entry: int = 0
    video_entry: int = 0
    noise_entry: int = 0  # dream from noise: no source
    evil_entry: int = 0
    hidden_entry: int = 0
    unpublished_entry: int = 0
    opted_out_entry: int = 0
    unlisted_entries: list[int] = field(default_factory=list)
    unlisted_token: str = ""
    off_entry: int = 0
    long_entry: int = 0  # LONG_TITLE by LONG_NAME in LONG_GUILD
    gif_clip_entry: int = 0  # in CLIP_GUILD: an animated GIF dreamed into a GIF
    webm_clip_entry: int = 0  # in CLIP_GUILD: a WebM dreamed into an MP4
    bidi_entry: int = 0  # BIDI_TITLE by BIDI_NAME in LONG_GUILD
    never_published_dream: int = 0  # a dream id with no entry
    params_entry: int = 0
    params: Optional[DreamParams] = None
    result_sha: dict[int, str] = field(default_factory=dict)
    source_sha: dict[int, str] = field(default_factory=dict)


def encode(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def dreamlike(img: Image.Image, variant: int) -> Image.Image:
    """A cheap stand-in for a dream: a visibly different picture of the same size."""
    out = ImageOps.posterize(img.filter(ImageFilter.EDGE_ENHANCE_MORE), 3)
    r, g, b = out.split()
    channels = [(r, g, b), (g, b, r), (b, r, g)][variant % 3]
    return Image.merge("RGB", channels)


def animated_webp(img: Image.Image, frames: int = 4) -> bytes:
    ims = [img.rotate(i * 8, resample=Image.Resampling.BILINEAR) for i in range(frames)]
    return encode(ims[0], "WEBP", save_all=True, append_images=ims[1:], duration=120, loop=0)


def animated_gif(img: Image.Image, frames: int = 4) -> bytes:
    ims = [img.rotate(i * 8, resample=Image.Resampling.BILINEAR) for i in range(frames)]
    return encode(ims[0], "GIF", save_all=True, append_images=ims[1:], duration=120, loop=0)


def tiny_webm(img: Image.Image, frames: int = 6) -> bytes:
    import imageio.v3 as iio
    import numpy as np

    w, h = img.size
    im = img.resize((w - w % 16, h - h % 16))
    arr = np.stack([np.asarray(im.rotate(i * 5)) for i in range(frames)])
    return iio.imwrite("<bytes>", arr, extension=".webm", fps=6, codec="libvpx-vp9", macro_block_size=16)


def tiny_mp4(img: Image.Image, frames: int = 6) -> bytes:
    import imageio.v3 as iio
    import numpy as np

    w, h = img.size
    im = img.resize((w - w % 16, h - h % 16))
    arr = np.stack([np.asarray(im.rotate(i * 5)) for i in range(frames)])
    return iio.imwrite("<bytes>", arr, extension=".mp4", fps=6, codec="libx264", macro_block_size=16)


async def _finished_dream(store, user_id, user_name, guild_id, guild_name, source, result_bytes, *,
                          params=None, is_animation=False, seconds=4.2):
    params = (params or DreamParams(seed=1234)).resolved()
    if isinstance(source, bytes):  # a clip: its bytes as posted, the first frame for the size
        src_ref = await store.files.aput(source)
        source = Image.open(io.BytesIO(source)) if source[:4] != b"\x1a\x45\xdf\xa3" else Image.new("RGB", (96, 64))
    else:
        src_ref = await store.files.aput(encode(source)) if source is not None else None
    d = await store.create_dream(
        user_id, params, guild_id=guild_id, source=src_ref, user_name=user_name, guild_name=guild_name
    )
    await store.mark_running(d.id)
    res_ref = await store.files.aput(result_bytes)
    w, h = source.size if source is not None else (96, 96)
    d = await store.mark_done(d.id, res_ref, width=w, height=h, seconds=seconds, is_animation=is_animation,
                              params=params)
    return d, src_ref, res_ref


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def web_env(tmp_path_factory, sample_image):
    """A migrated store seeded with galleries, and ``(store, seeded, settings)``."""
    from bot.settings import Settings
    from bot.store import Store

    data = tmp_path_factory.mktemp("webdata")
    settings = Settings(_env_file=None, data_dir=data, web_page_size=PAGE_SIZE, web_url=None)
    store = await Store.open(settings)
    s = Seeded()
    src = sample_image.copy()

    await store.set_gallery_visibility(PUBLIC_GUILD, "public", guild_name="Dream Club")
    await store.set_gallery_visibility(UNLISTED_GUILD, "unlisted", guild_name="Secret Garden")
    await store.set_gallery_visibility(OFF_GUILD, "off", guild_name="Closed Shop")
    await store.touch_user(ALICE, "Alice")
    await store.touch_user(BOB, "Bob")
    await store.touch_user(OPTED_OUT, "Quiet")

    async def publish(dream, guild, by, title=None):
        item = await store.publish(dream.id, guild, by_user_id=by, title=title)
        return item.id

    # the public gallery: six visible stills with distinct vote counts ...
    vote_plan = [2, 5, 0, 3, 1, 4]
    for i, nvotes in enumerate(vote_plan):
        author, name = (ALICE, "Alice") if i % 2 == 0 else (BOB, "Bob")
        params = DreamParams(strength="high", layer="mixed4:97", iterations=17, seed=100 + i) if i == 0 else None
        d, src_ref, res_ref = await _finished_dream(
            store, author, name, PUBLIC_GUILD, "Dream Club", src, encode(dreamlike(src, i)), params=params
        )
        eid = await publish(d, PUBLIC_GUILD, author, title=f"Cat dream {i}" if i == 1 else None)
        if i == 0:
            s.params_entry, s.params = eid, d.params
        for v in VOTERS[:nvotes]:
            await store.vote(eid, v)
        s.public_entries.append(eid)
        s.votes[eid] = nvotes
        s.result_sha[eid], s.source_sha[eid] = res_ref.sha256, src_ref.sha256
    # ... an animated WebP, an mp4, a dream from noise and one by a user with a hostile name
    d, _, res_ref = await _finished_dream(store, ALICE, "Alice", PUBLIC_GUILD, "Dream Club", src,
                                          animated_webp(dreamlike(src, 1)), is_animation=True)
    s.animated_entry = await publish(d, PUBLIC_GUILD, ALICE)
    s.result_sha[s.animated_entry] = res_ref.sha256
    d, _, res_ref = await _finished_dream(store, BOB, "Bob", PUBLIC_GUILD, "Dream Club", src,
                                          tiny_mp4(dreamlike(src, 2)), is_animation=True,
                                          params=DreamParams(zoom_frames=6, seed=7))
    s.video_entry = await publish(d, PUBLIC_GUILD, BOB)
    s.result_sha[s.video_entry] = res_ref.sha256
    noise = dreamlike(Image.effect_noise((96, 96), 60).convert("RGB"), 0)
    d, _, _ = await _finished_dream(store, ALICE, "Alice", PUBLIC_GUILD, "Dream Club", None, encode(noise))
    s.noise_entry = await publish(d, PUBLIC_GUILD, ALICE)
    d, _, res_ref = await _finished_dream(store, MALLORY, EVIL_NAME, PUBLIC_GUILD, "Dream Club", src,
                                          encode(dreamlike(src, 0), "JPEG"))
    s.evil_entry = await publish(d, PUBLIC_GUILD, MALLORY, title=EVIL_NAME)
    s.result_sha[s.evil_entry] = res_ref.sha256
    s.public_entries += [s.animated_entry, s.video_entry, s.noise_entry, s.evil_entry]
    for e in (s.animated_entry, s.video_entry, s.noise_entry, s.evil_entry):
        s.votes[e] = 0

    # not visible: hidden by a moderator, unpublished, author opted out, never published
    d, _, _ = await _finished_dream(store, BOB, "Bob", PUBLIC_GUILD, "Dream Club", src, encode(dreamlike(src, 2)))
    s.hidden_entry = await publish(d, PUBLIC_GUILD, BOB)
    await store.hide_entry(s.hidden_entry, moderator=True)
    d, _, _ = await _finished_dream(store, BOB, "Bob", PUBLIC_GUILD, "Dream Club", src, encode(dreamlike(src, 1)))
    s.unpublished_entry = await publish(d, PUBLIC_GUILD, BOB)
    d, _, _ = await _finished_dream(store, OPTED_OUT, "Quiet", PUBLIC_GUILD, "Dream Club", src,
                                    encode(dreamlike(src, 0)))
    s.opted_out_entry = await publish(d, PUBLIC_GUILD, OPTED_OUT)
    await store.set_gallery_opt_out(OPTED_OUT, True)
    d, _, _ = await _finished_dream(store, ALICE, "Alice", PUBLIC_GUILD, "Dream Club", src, encode(src))
    s.never_published_dream = d.id

    # an unlisted gallery and a closed one
    for i in range(2):
        d, _, _ = await _finished_dream(store, ALICE, "Alice", UNLISTED_GUILD, "Secret Garden", src,
                                        encode(dreamlike(src, i)))
        s.unlisted_entries.append(await publish(d, UNLISTED_GUILD, ALICE))
    s.unlisted_token = (await store.get_guild(UNLISTED_GUILD)).unlisted_token
    d, _, _ = await _finished_dream(store, ALICE, "Alice", OFF_GUILD, "Closed Shop", src, encode(src))
    s.off_entry = await publish(d, OFF_GUILD, ALICE)
    # hostile text: unbroken 100-character names and titles, bidi controls
    await store.set_gallery_visibility(LONG_GUILD, "public", guild_name=LONG_GUILD_NAME + RLO)
    d, _, _ = await _finished_dream(store, ALICE + 10, LONG_NAME, LONG_GUILD, LONG_GUILD_NAME + RLO, src,
                                    encode(dreamlike(src, 1)))
    s.long_entry = await publish(d, LONG_GUILD, ALICE + 10, title=LONG_TITLE)
    d, _, _ = await _finished_dream(store, ALICE + 11, BIDI_NAME, LONG_GUILD, LONG_GUILD_NAME + RLO, src,
                                    encode(dreamlike(src, 2)))
    s.bidi_entry = await publish(d, LONG_GUILD, ALICE + 11, title=BIDI_TITLE)
    d, _, _ = await _finished_dream(store, ALICE + 11, BIDI_NAME, LONG_GUILD, LONG_GUILD_NAME + RLO, src,
                                    encode(dreamlike(src, 0)))
    await publish(d, LONG_GUILD, ALICE + 11)  # no title: "Dream by <name>"

    # dreamed clips in their own gallery (the public one's counts stay as they are)
    await store.set_gallery_visibility(CLIP_GUILD, "public", guild_name="Clip Club")
    d, _, _ = await _finished_dream(store, ALICE, "Alice", CLIP_GUILD, "Clip Club", animated_gif(src),
                                    animated_gif(dreamlike(src, 1)), is_animation=True)
    s.gif_clip_entry = await publish(d, CLIP_GUILD, ALICE)
    webm_src = src.resize((96, 64))
    d, _, _ = await _finished_dream(store, BOB, "Bob", CLIP_GUILD, "Clip Club", tiny_webm(webm_src),
                                    tiny_mp4(dreamlike(webm_src, 2)), is_animation=True)
    s.webm_clip_entry = await publish(d, CLIP_GUILD, BOB)

    # last: SQLite may hand the id of the newest deleted row to the next insert
    await store.unpublish(s.unpublished_entry, by_user_id=BOB)

    try:
        yield store, s, settings
    finally:
        await store.close()


@dataclass
class Served:
    base: str
    store: object
    seeded: Seeded
    settings: object
    app: object


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def served(web_env):
    """The real gallery app on a real TCP port (127.0.0.1, a free port)."""
    from aiohttp import web

    from bot.metrics import Metrics
    from bot.web import create_web_app

    store, seeded, settings = web_env
    app = create_web_app(store, store.files, settings=settings, metrics=Metrics())
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield Served(f"http://127.0.0.1:{port}", store, seeded, settings, app)
    finally:
        await runner.cleanup()


@pytest.fixture
async def http(served):
    """An aiohttp client session on the served gallery (paths relative to its base)."""
    async with aiohttp.ClientSession(base_url=served.base) as session:
        yield session


async def get(http, path, **kw):
    """GET ``path`` without following redirects: ``(status, headers, body)``."""
    kw.setdefault("allow_redirects", False)
    async with http.get(path, **kw) as r:
        return r.status, r.headers, await r.read()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


# ------------------------------------------------------------------ Chromium (the browser tests)

CHROMIUM = os.environ.get("DREAMBOT_TEST_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def browser():
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        try:
            yield b
        finally:
            await b.close()


# ------------------------------------------------------------------ the atlas's pages (tests.web.atlas_support)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def standalone(web_env, tmp_path_factory):
    """``dreambot web``: no executor, so no renderer."""
    served, runner = await serve_atlas(web_env, tmp_path_factory.mktemp("atlas-standalone"), renderer=False)
    try:
        yield served
    finally:
        await runner.cleanup()


@pytest_asyncio.fixture(loop_scope="session")
async def in_bot(web_env, tmp_path):
    """Inside the bot: a renderer that writes the ordered renders into the cache."""
    served, runner = await serve_atlas(web_env, tmp_path / "atlas", renderer=True)
    try:
        yield served
    finally:
        await runner.cleanup()
