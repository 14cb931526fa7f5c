"""The gallery's caches never show what the store no longer shows.

Pages, picture lookups and picture bytes are cached (bot/web/page_cache.py,
bot/web/file_bytes.py) until the database changes (bot/store/changes.py). These
tests warm every cache, change the store as the bot does (publish, vote, hide,
unpublish, delete, opt out, visibility), and ask again: on SQLite the very next
request must show the change (a separate ``dreambot web`` process sharing the
database: test_cache_across_processes.py).
"""

from __future__ import annotations

import asyncio
import re

import aiohttp
import pytest
import pytest_asyncio

from tests.web.conftest import _finished_dream, dreamlike, encode, get

pytestmark = pytest.mark.asyncio(loop_scope="session")

GUILD = 444_000_000_000_000_001
AUTHOR, VOTER, MODERATOR = 555_000_000_000_000_001, 555_000_000_000_000_002, 555_000_000_000_000_003


def entry_ids(body: bytes) -> list[int]:
    return [int(x) for x in re.findall(rb'data-dream-id="(\d+)"', body)]


def score(body: bytes) -> int:
    """The vote count a dream's page shows."""
    m = re.search(rb'<span class="score">(\d+)</span>', body)
    assert m, body[:2000]
    return int(m.group(1))


async def publish_one(
    store, image, variant: int, *, user: int = AUTHOR, name: str = "Ada", guild: int = GUILD
) -> tuple[int, str]:
    """A finished dream published in ``guild``: its entry id and its result's versioned picture path."""
    d, _, res = await _finished_dream(store, user, name, guild, "Cache Club", image,
                                      encode(dreamlike(image, variant).rotate(90 * variant)))
    entry = (await store.publish(d.id, guild, by_user_id=user)).id
    return entry, f"/img/{entry}/result?v={res.sha256[:16]}"


@pytest_asyncio.fixture(loop_scope="session")
async def site(tmp_path, sample_image):
    """A store of its own (a SQLite file through the migrations) with a public gallery, and
    the real app serving it: ``(http, store)``."""
    from aiohttp import web

    from bot.metrics import Metrics
    from bot.settings import Settings
    from bot.store import Store
    from bot.web import create_web_app

    settings = Settings(_env_file=None, data_dir=tmp_path / "data", web_page_size=4, web_url=None)
    store = await Store.open(settings)
    await store.set_gallery_visibility(GUILD, "public", guild_name="Cache Club")
    runner = web.AppRunner(create_web_app(store, store.files, settings=settings, metrics=Metrics()))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{runner.addresses[0][1]}") as http:
            yield http, store
    finally:
        await runner.cleanup()
        await store.close()


async def warm(http, *paths: str) -> dict[str, tuple[int, object, bytes]]:
    """Ask for each path twice (the second answer comes from the caches)."""
    out = {}
    for path in paths:
        await get(http, path)
        out[path] = await get(http, path)
    return out


async def test_hidden_and_deleted_entries_are_never_served_from_a_cache(site, sample_image):
    http, store = site
    entry, result = await publish_one(store, sample_image, 1)
    other, _ = await publish_one(store, sample_image, 2)
    pages = (f"/d/{entry}", f"/g/{GUILD}", f"/g/{GUILD}?sort=top", "/")
    pictures = (result, f"/img/{entry}/result", f"/img/{entry}/thumb", f"/img/{entry}/source")
    seen = await warm(http, *pages, *pictures)
    assert all(status == 200 for status, _, _ in seen.values()), {p: s for p, (s, _, _) in seen.items()}
    assert entry in entry_ids(seen[f"/g/{GUILD}"][2]) and entry in entry_ids(seen[f"/g/{GUILD}?sort=top"][2])
    assert b"2 dreams</span>" in seen["/"][2]
    # a shared cache (CDN, proxy) must ask again every time; browsers keep a picture briefly
    assert seen[result][1]["Cache-Control"] == "public, max-age=300, s-maxage=0, must-revalidate"
    etag = seen[result][1]["ETag"]
    page_etag = seen[f"/d/{entry}"][1]["ETag"]
    assert (await get(http, result, headers={"If-None-Match": etag}))[0] == 304
    assert (await get(http, f"/d/{entry}", headers={"If-None-Match": page_etag}))[0] == 304

    await store.hide_entry(entry, moderator=True)
    for path in (f"/d/{entry}", *pictures):
        assert (await get(http, path))[0] == 404, path
    # revalidating what a browser or proxy kept: 404 too, never 304
    assert (await get(http, result, headers={"If-None-Match": etag}))[0] == 404
    assert (await get(http, f"/d/{entry}", headers={"If-None-Match": page_etag}))[0] == 404
    for path in (f"/g/{GUILD}", f"/g/{GUILD}?sort=top"):
        assert entry_ids((await get(http, path))[2]) == [other], path
    assert b"1 dream</span>" in (await get(http, "/"))[2]

    await store.unhide_entry(entry, moderator=True)
    await warm(http, *pages, *pictures)
    assert (await get(http, result))[0] == 200

    report = await store.delete_dream((await store.get_entry(entry)).dream.id, by_user_id=AUTHOR)
    assert report.gallery_entries == 1
    for path in (f"/d/{entry}", *pictures):
        assert (await get(http, path))[0] == 404, path
    assert (await get(http, result, headers={"If-None-Match": etag}))[0] == 404
    assert entry not in entry_ids((await get(http, f"/g/{GUILD}"))[2])


async def test_publish_vote_unpublish_opt_out_and_visibility_show_at_once(site, sample_image):
    http, store = site
    first, _ = await publish_one(store, sample_image, 0)
    await warm(http, f"/g/{GUILD}", f"/g/{GUILD}?sort=top", f"/d/{first}", "/")
    # publish: the new entry leads the gallery
    second, _ = await publish_one(store, sample_image, 1, user=VOTER, name="Bea")
    assert entry_ids((await get(http, f"/g/{GUILD}"))[2])[:2] == [second, first]
    # vote: the count on the dream's page and the top order change
    await warm(http, f"/d/{second}", f"/g/{GUILD}?sort=top")
    assert score((await get(http, f"/d/{second}"))[2]) == 0
    await store.vote(second, MODERATOR)
    assert score((await get(http, f"/d/{second}"))[2]) == 1
    assert entry_ids((await get(http, f"/g/{GUILD}?sort=top"))[2])[0] == second
    await store.unvote(second, MODERATOR)
    assert score((await get(http, f"/d/{second}"))[2]) == 0
    # unpublish
    await store.unpublish(second, by_user_id=VOTER)
    assert (await get(http, f"/d/{second}"))[0] == 404
    assert second not in entry_ids((await get(http, f"/g/{GUILD}"))[2])
    # the author opts out of galleries: their entries go
    await warm(http, f"/d/{first}", f"/img/{first}/thumb")
    await store.set_gallery_opt_out(AUTHOR, True)
    assert (await get(http, f"/d/{first}"))[0] == 404
    assert (await get(http, f"/img/{first}/thumb"))[0] == 404
    await store.set_gallery_opt_out(AUTHOR, False)
    assert (await get(http, f"/d/{first}"))[0] == 200
    # the server closes its gallery
    await warm(http, f"/g/{GUILD}", f"/d/{first}", "/")
    await store.set_gallery_visibility(GUILD, "off")
    assert (await get(http, f"/g/{GUILD}"))[0] == 404
    assert (await get(http, f"/d/{first}"))[0] == 404
    assert b"Cache Club" not in (await get(http, "/"))[2]
    await store.set_gallery_visibility(GUILD, "public")
    assert (await get(http, f"/d/{first}"))[0] == 200


async def test_pages_answer_revalidation_with_304_until_they_change(site, sample_image):
    http, store = site
    entry, _ = await publish_one(store, sample_image, 2)
    status, headers, body = await get(http, f"/d/{entry}")
    assert status == 200 and headers["ETag"] and headers["Cache-Control"] == "public, no-cache"
    status, h304, body304 = await get(http, f"/d/{entry}", headers={"If-None-Match": headers["ETag"]})
    assert status == 304 and body304 == b"" and h304["ETag"] == headers["ETag"]
    assert h304["Cache-Control"] == "public, no-cache" and h304["X-Frame-Options"] == "DENY"
    await store.vote(entry, MODERATOR)
    status, changed, body = await get(http, f"/d/{entry}", headers={"If-None-Match": headers["ETag"]})
    assert status == 200 and changed["ETag"] != headers["ETag"] and score(body) == 1


async def test_a_value_built_while_a_commit_lands_is_not_reused(site, sample_image):
    """The page cache keeps a value only under the change token read *before* building it:
    one built while a commit lands is handed to its own callers but never reused, also
    when a newer request already rebuilt the key."""
    from bot.store.changes import watcher_for
    from bot.web.page_cache import PageCache

    _, store = site
    entry, _ = await publish_one(store, sample_image, 0)
    watcher = watcher_for(store.db)
    cache: PageCache[str] = PageCache(watcher)
    builds = []
    hidden, release = asyncio.Event(), asyncio.Event()

    async def build_while_hiding() -> str:
        builds.append("stale")
        await store.hide_entry(entry, moderator=True)  # lands after the build read the store
        hidden.set()
        await release.wait()
        return "visible"

    async def build() -> str:
        builds.append("fresh")
        return "hidden"

    try:
        slow = asyncio.ensure_future(cache.get("page", build_while_hiding))
        await hidden.wait()
        assert await cache.get("page", build) == "hidden"  # a request after the commit
        release.set()
        assert await slow == "visible"  # its own caller gets what it asked for ...
        assert await cache.get("page", build) == "hidden"  # ... nobody else
        assert builds == ["stale", "fresh"]
        await store.unhide_entry(entry, moderator=True)
        assert await cache.get("page", build) == "hidden" and builds == ["stale", "fresh", "fresh"]
    finally:
        watcher.close()


async def test_concurrent_misses_share_one_build(site):
    from bot.store.changes import watcher_for
    from bot.web.page_cache import PageCache

    _, store = site
    watcher = watcher_for(store.db)
    cache: PageCache[int] = PageCache(watcher)
    release = asyncio.Event()
    builds = 0

    async def build() -> int:
        nonlocal builds
        builds += 1
        await release.wait()
        return 42

    try:
        waiting = [asyncio.ensure_future(cache.get("page", build)) for _ in range(20)]
        await asyncio.sleep(0)
        release.set()
        assert await asyncio.gather(*waiting) == [42] * 20
        assert builds == 1
    finally:
        watcher.close()


async def test_healthz_repeats_the_store_check_for_at_most_its_ttl(tmp_path):
    """/healthz's store check is repeated for its TTL (a second by default), then asked
    again: a store that stops answering shows."""
    from bot.settings import Settings
    from bot.store import Store
    from bot.web.store_check import STORE_CHECK_TTL_S, StoreCheck

    data = tmp_path / "data"
    store = await Store.open(Settings(_env_file=None, data_dir=data))
    try:
        check = StoreCheck(store, ttl_s=3600)
        assert check.ttl_s == 3600 and StoreCheck(store).ttl_s == STORE_CHECK_TTL_S == 1.0
        first = await check()
        assert first["ok"] is True
        # the database goes away: its folder is moved and the pool's connections dropped
        data.rename(tmp_path / "moved")
        await store.db.dispose()
        assert await check() is first  # within the TTL: the same answer
        check.ttl_s = 0.0
        gone = await check()
        assert gone["ok"] is False and gone["error"]
    finally:
        await store.close()


async def test_front_page_covers_are_each_gallerys_top_entry(site, sample_image):
    """Galleries most recently active first, each with its most-voted visible entry
    (newest among equals) as the cover; a hidden cover is replaced on the next request."""
    http, store = site
    other = GUILD + 1
    await store.set_gallery_visibility(other, "public", guild_name="Second Club")
    older, _ = await publish_one(store, sample_image, 0)
    top, _ = await publish_one(store, sample_image, 1)
    newest, _ = await publish_one(store, sample_image, 2)
    for voter in (VOTER, MODERATOR):
        await store.vote(top, voter)
    await store.vote(older, VOTER)
    lone, _ = await publish_one(store, sample_image, 3, guild=other)  # the latest activity

    def cards(body: bytes) -> list[tuple[int, int]]:
        """(guild, cover entry) of each card, in order."""
        found = re.findall(rb'href="/g/(\d+)">\s*<img src="/img/(\d+)/thumb\?v=[0-9a-f]{16}"', body)
        return [(int(g), int(e)) for g, e in found]

    assert cards((await get(http, "/"))[2]) == [(other, lone), (GUILD, top)]
    await store.hide_entry(top, moderator=True)
    assert cards((await get(http, "/"))[2]) == [(other, lone), (GUILD, older)]
    await store.unvote(older, VOTER)  # no votes left: the newest
    assert cards((await get(http, "/"))[2]) == [(other, lone), (GUILD, newest)]
    await store.set_gallery_visibility(other, "off")
    assert cards((await get(http, "/"))[2]) == [(GUILD, newest)]


async def test_every_page_of_both_orders_in_sequence(site, sample_image):
    """Pages past the middle are read from the other end of the order: together the pages
    still give every entry once, in order (most votes then newest, or newest first)."""
    http, store = site
    guild = GUILD + 2
    await store.set_gallery_visibility(guild, "public", guild_name="Paging Club")
    votes = [0, 2, 0, 1, 2, 0, 1, 3, 0, 1, 0]
    entries = []
    for i, n in enumerate(votes):
        entry, _ = await publish_one(store, sample_image, i, guild=guild)
        for voter in range(n):
            await store.vote(entry, VOTER + 10 + voter)
        entries.append(entry)
    expected = {
        "recent": sorted(entries, reverse=True),
        "top": [e for _, e in sorted(zip(votes, entries, strict=True), key=lambda x: (-x[0], -x[1]))],
    }
    for sort, order in expected.items():
        shown = []
        for page in (1, 2, 3):  # 4 a page: page 3 (3 entries) is past the middle of 11
            status, _, body = await get(http, f"/g/{guild}?sort={sort}&page={page}")
            assert status == 200, (sort, page)
            shown += entry_ids(body)
        assert shown == order, sort
        assert (await get(http, f"/g/{guild}?sort={sort}&page=4"))[0] == 404
