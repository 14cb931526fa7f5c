"""End-to-end: presets, gallery, autocomplete, bad pictures, info and admin commands."""

from __future__ import annotations

import struct
import zlib

import pytest

from tests.bot.helpers import dream_id_of, finished_dream, result_done
from tests.fakediscord import InteractionFailed
from tests.images import png_bytes

pytestmark = pytest.mark.asyncio(loop_scope="session")


def huge_png(width: int = 20000, height: int = 20000) -> bytes:
    """A valid PNG header announcing ``width``×``height`` pixels (a decompression-bomb shape)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    idat = zlib.compress(row * 64)  # far fewer rows than announced: never decoded anyway
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


async def test_presets_save_list_show_use_delete(bot_env, small_png):
    env = bot_env
    fake, w = env.fake, env.world
    h = await fake.slash(
        "preset save",
        {"name": "dogs", "layer": "mixed4:7", "strength": "extreme", "more": "keep_colors=true jitter=8"},
        user=w.alice,
    )
    assert h.callback.ephemeral and "dogs" in h.text
    p = await env.store.get_preset(w.alice.id, "dogs")
    got = (p.params.layer, p.params.strength, p.params.keep_colors, p.params.jitter)
    assert got == ("mixed4:7", "extreme", True, 8)
    assert p.params.octaves is None and p.params.max_size == 1024  # the bot's defaults stay out of presets

    bad = await fake.slash("preset save", {"name": "bad", "more": "octopus=3"}, user=w.alice)
    assert bad.callback.ephemeral and "octopus" in bad.text
    bad = await fake.slash("preset save", {"name": "bad", "layer": "mixed9"}, user=w.alice)
    assert bad.callback.ephemeral and "mixed9" in bad.text

    listed = await fake.slash("preset list", user=w.alice)
    assert listed.callback.ephemeral and "dogs" in listed.text
    shown = await fake.slash("preset show", {"name": "dogs"}, user=w.alice)
    assert "mixed4:7" in shown.text and "keep_colors" in shown.text and "/dream preset:dogs" in shown.text

    used = await fake.slash("preset use", {"name": "dogs"}, user=w.alice,
                            attachments={"image": (small_png, "cat.png", "image/png")})
    msg = await used.wait_for_original(result_done, timeout=90)
    info = await env.store.get_dream(dream_id_of(msg))
    assert info.params.layer == "mixed4:7" and info.params.keep_colors
    # ...and still apply under them, without being recorded as set
    assert set(info.params_data) == {"layer", "strength", "keep_colors", "jitter", "seed"}
    assert max(info.width, info.height) <= 96

    # /dream preset: + an option on top
    h = await fake.slash("dream", {"preset": "dogs", "strength": "low"}, user=w.alice,
                         attachments={"image": (small_png, "cat.png", "image/png")})
    msg = await h.wait_for_original(result_done, timeout=90)
    info = await env.store.get_dream(dream_id_of(msg))
    assert info.params.layer == "mixed4:7" and info.params.strength == "low"
    assert (await env.store.get_preset(w.alice.id, "dogs")).use_count == 2

    # shared presets are visible to others; bob cannot delete alice's
    await fake.slash("preset share", {"name": "dogs", "shared": True}, user=w.alice)
    choices = await fake.autocomplete("dream", {"preset": "do"}, "preset", user=w.bob)
    assert any(c["value"] == "dogs" for c in choices)
    gone = await fake.slash("preset delete", {"name": "dogs"}, user=w.bob)
    assert gone.callback.ephemeral and "no preset" in gone.text
    deleted = await fake.slash("preset delete", {"name": "dogs"}, user=w.alice)
    assert "Deleted" in deleted.text
    unknown = await fake.slash("dream", {"preset": "dogs"}, user=w.alice,
                               attachments={"image": (small_png, "cat.png", "image/png")})
    assert unknown.callback.type == 4 and unknown.callback.ephemeral and "preset" in unknown.text
    assert not fake.bot_errors and not fake.unhandled_routes


async def test_autocomplete_layers_and_presets(bot_env):
    fake, w = bot_env.fake, bot_env.world
    names = [c["value"] for c in await fake.autocomplete("dream", {"layer": "mix"}, "layer", user=w.alice)]
    assert names[:3] == ["mixed3", "mixed4", "mixed5"]
    filters = [c["value"] for c in await fake.autocomplete("dream", {"layer": "mixed4:1"}, "layer", user=w.alice)]
    assert filters and all(f.startswith("mixed4:1") for f in filters) and "mixed4:10" in filters
    combo = [c["value"] for c in await fake.autocomplete("dream", {"layer": "mixed3+mixed5"}, "layer", user=w.alice)]
    assert combo and combo[0] == "mixed3+mixed5"
    await fake.slash("preset save", {"name": "zebra-stripes", "layer": "mixed3"}, user=w.alice)
    mine = [c["value"] for c in await fake.autocomplete("dream", {"preset": "zeb"}, "preset", user=w.alice)]
    assert mine == ["zebra-stripes"]
    assert [c for c in await fake.autocomplete("dream", {"preset": "zeb"}, "preset", user=w.bob)] == []


@pytest.mark.parametrize(
    "data, filename, content_type, expect",
    [
        (b"just some text, not a picture\n" * 5, "notes.png", "image/png", "can't read"),
        (b"", "empty.png", "image/png", "empty"),
        (None, "huge.png", "image/png", "megapixels"),
        (b"hello", "notes.txt", "text/plain", "isn't an image"),
    ],
)
async def test_bad_attachments_are_refused_kindly(bot_env, data, filename, content_type, expect):
    fake, w = bot_env.fake, bot_env.world
    data = huge_png() if data is None else data
    before = await bot_env.store.list_history(w.bob.id, page_size=100)
    h = await fake.slash("dream", {}, user=w.bob, attachments={"image": (data, filename, content_type)})
    await h.wait_for(lambda h: any(m.ephemeral for m in h.messages), timeout=20)
    ephemeral = [m for m in h.messages if m.ephemeral]
    assert expect in ephemeral[-1].text
    # the public "thinking" message (if any) is gone, nothing was recorded, nothing crashed
    assert h.original is None or h.original.ephemeral or h.original.deleted
    after = await bot_env.store.list_history(w.bob.id, page_size=100)
    assert after.total == before.total
    assert not fake.bot_errors and not fake.unhandled_routes


async def test_gallery_publish_browse_vote_and_pages(bot_env, small_png):
    env = bot_env
    fake, w = env.fake, env.world
    ids = []
    for layer in ("mixed3", "mixed5"):
        _, _, dream_id = await finished_dream(env, small_png, layer=layer)
        ids.append(dream_id)
    choices = await fake.autocomplete("gallery publish", {"dream": ""}, "dream", user=w.alice)
    assert {c["value"] for c in choices} >= set(ids)
    env.settings.web_enabled, env.settings.web_url = True, "https://dreams.example"  # the web gallery runs
    try:
        for i, dream_id in enumerate(ids):
            h = await fake.slash("gallery publish", {"dream": dream_id, "title": f"pic {i}"}, user=w.alice)
            assert h.callback.ephemeral and "Published" in h.text, h.text
            guild = await env.store.get_guild(w.guild.id)
            assert f"https://dreams.example/g/{w.guild.id}?key={guild.unlisted_token}" in h.text
    finally:
        env.settings.web_enabled, env.settings.web_url = False, None
    again = await fake.slash("gallery publish", {"dream": ids[0]}, user=w.alice)
    assert again.callback.ephemeral and "already" in again.text
    not_mine = await fake.slash("gallery publish", {"dream": ids[0]}, user=w.bob)
    assert not_mine.callback.ephemeral

    recent = await fake.slash("gallery recent", user=w.bob)
    page0 = await recent.wait_for_original(lambda m: m.embeds, timeout=20)
    assert "pic 1" in page0.text and page0.attachments  # newest first, with its picture
    entry = await env.store.find_entry(w.guild.id, ids[1])
    vote = await fake.click(page0, f"vote:{entry.id}", user=w.bob)
    assert vote.callback.type == 7
    assert await env.store.vote_count(entry.id) == 1
    assert page0.component(f"vote:{entry.id}")["label"] == "1"
    unvote = await fake.click(page0, f"vote:{entry.id}", user=w.bob)
    assert unvote.callback.type == 7 and await env.store.vote_count(entry.id) == 0

    next_id = next(c for c in page0.custom_ids() if c.startswith("page:recent:") and c.endswith(":n"))
    paged = await fake.click(page0, next_id, user=w.alice)
    assert paged.acked
    await fake.wait_for(lambda: "pic 0" in page0.text, timeout=20)

    # top: the voted entry first
    first = await env.store.find_entry(w.guild.id, ids[0])
    await env.store.vote(first.id, w.alice.id)
    top = await fake.slash("gallery top", user=w.bob)
    top_msg = await top.wait_for_original(lambda m: m.embeds, timeout=20)
    assert "pic 0" in top_msg.text

    # an author can keep their dreams out of galleries
    listed = (await env.store.list_gallery(w.guild.id, page_size=100)).total
    out = await fake.slash("gallery optout", {"out": True}, user=w.alice)
    assert out.callback.ephemeral
    assert (await env.store.list_gallery(w.guild.id, page_size=100)).total == listed - 2
    await fake.slash("gallery optout", {"out": False}, user=w.alice)
    assert (await env.store.list_gallery(w.guild.id, page_size=100)).total == listed

    # admins can switch the gallery off; then publishing and browsing explain why not
    denied = await fake.slash("gallery visibility", {"mode": "off"}, user=w.alice)
    assert denied.callback.ephemeral and "Manage Server" in denied.text
    off = await fake.slash("gallery visibility", {"mode": "off"}, user=w.admin)
    assert off.callback.ephemeral and "off" in off.text
    closed = await fake.slash("gallery recent", user=w.bob)
    assert closed.callback.ephemeral and "switched off" in closed.text
    await fake.slash("gallery visibility", {"mode": "unlisted"}, user=w.admin)
    assert not fake.bot_errors and not fake.unhandled_routes


async def test_history_pages(bot_env, small_png):
    env = bot_env
    fake, w = env.fake, env.world
    if (await env.store.list_history(w.alice.id)).total < 3:
        await finished_dream(env, small_png)
        await finished_dream(env, small_png)
    env.settings.page_size = 2
    try:
        h = await fake.slash("history", user=w.alice)
    finally:
        env.settings.page_size = 5
    assert h.callback.ephemeral
    msg = h.original
    assert "#" in msg.text and "discord.com/channels" in msg.text
    next_id = next(c for c in msg.custom_ids() if c.startswith("page:history:") and c.endswith(":n"))
    first_page = msg.text
    env.settings.page_size = 2
    try:
        paged = await fake.click(msg, next_id, user=w.alice)
    finally:
        env.settings.page_size = 5
    assert paged.callback.type == 7
    assert msg.text != first_page and "page 2/" in msg.text


async def test_layers_help_and_admin(bot_env):
    fake, w = bot_env.fake, bot_env.world
    layers = await fake.slash("layers", user=w.alice)
    assert layers.callback.ephemeral and "mixed4" in layers.text and "block10" in layers.text
    unknown = await fake.slash("layers", {"model": "nope"}, user=w.alice)
    assert unknown.callback.ephemeral and "unknown model" in unknown.text
    helped = await fake.slash("help", user=w.alice)
    assert helped.callback.ephemeral and "/dream" in helped.text

    queue = await fake.slash("dreamadmin queue", user=w.admin)
    assert queue.callback.ephemeral and "Queue" in queue.text
    limits = await fake.slash("dreamadmin limits", user=w.admin)
    assert "MB" in limits.text
    nothing = await fake.slash("dreamadmin cancel", {"dream": 999999}, user=w.admin)
    assert nothing.callback.ephemeral and "Nothing" in nothing.text
    with pytest.raises(InteractionFailed):  # Discord hides the command from members without Manage Server
        await fake.slash("dreamadmin queue", user=w.alice)


async def test_image_url_option(bot_env, small_png):
    env = bot_env
    fake, w = env.fake, env.world
    att = fake.make_attachment((small_png, "linked.png", "image/png"), w.general)
    env.settings.allow_private_image_urls = True  # the fake CDN lives on 127.0.0.1
    try:
        h = await fake.slash("dream", {"image_url": att.url}, user=w.alice)
        msg = await h.wait_for_original(result_done, timeout=90)
        assert msg.image()
    finally:
        env.settings.allow_private_image_urls = False
    blocked = await fake.slash("dream", {"image_url": att.url}, user=w.alice)
    await blocked.wait_for(lambda h: any(m.ephemeral for m in h.messages), timeout=20)
    assert "public" in blocked.text
    assert not fake.bot_errors and not fake.unhandled_routes


async def test_limits_cooldown_and_guild_jobs(bot_env, small_png):
    env = bot_env
    fake, w = env.fake, env.world
    env.settings.user_cooldown_s = 60
    try:
        first = await fake.slash("dream", {}, user=w.mod, attachments={"image": (small_png, "a.png", "image/png")})
        await first.wait_for_original(result_done, timeout=90)
        second = await fake.slash("dream", {}, user=w.mod, attachments={"image": (small_png, "a.png", "image/png")})
        assert second.callback.type == 4 and second.callback.ephemeral and "another dream in" in second.text
    finally:
        env.settings.user_cooldown_s = 0
    env.settings.guild_concurrent_jobs = 1
    try:
        slow = await fake.slash("dream", {"iterations": 400, "octaves": 3}, user=w.alice,
                                attachments={"image": (png_bytes(), "a.png", "image/png")})
        await slow.wait_for_original(lambda m: "dream:cancel" in " ".join(m.custom_ids()), timeout=30)
        busy = await fake.slash("dream", {}, user=w.bob, attachments={"image": (small_png, "b.png", "image/png")})
        assert busy.callback.ephemeral and "limit is 1" in busy.text
        cancelled = await fake.slash("dreamadmin cancel", {"member": w.alice}, user=w.admin)
        assert "Cancelling" in cancelled.text
        await slow.wait_for_original(lambda m: "cancelled" in m.content, timeout=30)
    finally:
        env.settings.guild_concurrent_jobs = 3


async def test_attachment_over_the_byte_limit(bot_env, small_png):
    fake, w = bot_env.fake, bot_env.world
    old = bot_env.settings.max_attachment_bytes
    bot_env.settings.max_attachment_bytes = len(small_png) - 1
    try:
        h = await fake.slash("dream", {}, user=w.bob, attachments={"image": (small_png, "big.png", "image/png")})
    finally:
        bot_env.settings.max_attachment_bytes = old
    assert h.callback.type == 4 and h.callback.ephemeral  # refused before deferring: nothing downloaded
    assert "the limit is" in h.text and "smaller" in h.text
