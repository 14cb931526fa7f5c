"""The atlas's pages over plain HTTP (aiohttp client against the real app on a real port,
the real seeded store, an atlas cache in a temporary folder): listings, aliases, the one
line of a 404, renders served from the cache, lazy rendering ordered once per filter,
and the links between the atlas and the gallery."""

from __future__ import annotations

import asyncio
import html
import re

import aiohttp
import pytest
import pytest_asyncio

from bot.web.atlas_images import GRID_SIZE, LARGE_SIZE
from bot.web.atlas_renders import RETRY_AFTER_S, UNSTORED
from dream_core import catalog
from dream_core.atlas.cache import AtlasCache
from tests.web.atlas_support import ALIAS, LAYER, MODEL, png, put
from tests.web.conftest import get
from tests.web.test_http import assert_security_headers

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(loop_scope="session")
async def client(standalone):
    async with aiohttp.ClientSession(base_url=standalone.base) as session:
        yield session


async def get_json(session, path):
    async with session.get(path, allow_redirects=False) as r:
        return r.status, r.headers, await r.json()


async def status_until(session, path, done, timeout=30.0):
    """The status at ``path`` once ``done(status)`` (polled like atlas.js; a loaded box is slow)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        _, _, s = await get_json(session, path)
        if done(s) or asyncio.get_running_loop().time() > deadline:
            return s
        await asyncio.sleep(0.05)


async def test_atlas_lists_every_model_and_layer(client):
    status, headers, body = await get(client, "/atlas")
    assert status == 200
    assert_security_headers(headers)
    text = body.decode()
    for info in catalog.CATALOG.values():
        assert f'id="{info.name}"' in text
        for name, _channels in info.layers:
            assert f'href="/atlas/{info.name}/{name}"' in text, (info.name, name)
    assert '<span class="badge">mixed4</span>' in text
    # the gallery's front page points to the atlas
    assert 'href="/atlas"' in (await get(client, "/"))[2].decode()


async def test_aliases_redirect_to_the_layers_own_name(client):
    for path, where in (
        (f"/atlas/{MODEL}/{ALIAS}", f"/atlas/{MODEL}/{LAYER}"),
        (f"/atlas/{MODEL}/{ALIAS}/97", f"/atlas/{MODEL}/{LAYER}/97"),
        (f"/atlas/{MODEL}/{ALIAS}/status?page=2", f"/atlas/{MODEL}/{LAYER}/status?page=2"),
        (f"/atlas/{MODEL}", f"/atlas#{MODEL}"),
    ):
        status, headers, _ = await get(client, path)
        assert status == 302, path
        assert headers["Location"] == where


@pytest.mark.parametrize("path, line", [
    ("/atlas/nosuchnet/mixed4", "unknown model 'nosuchnet'"),
    ("/atlas/nosuchnet", "unknown model 'nosuchnet'"),
    (f"/atlas/{MODEL}/mixed9", "unknown layer 'mixed9'"),
    (f"/atlas/{MODEL}/{LAYER}/112", "112 is out of range"),
    (f"/atlas/{MODEL}/{LAYER}/99999", "99999 is out of range"),
    (f"/atlas/{MODEL}/mixed9/3", "unknown layer 'mixed9'"),
    (f"/atlas/{MODEL}/{LAYER}/3/64-0.png", "has no picture 64-0.png"),
    (f"/atlas/{MODEL}/{LAYER}/3/128-0.png", "has no picture 128-0.png (yet)"),
    (f"/atlas/{MODEL}/{LAYER}/3/128-1.png", "has no picture 128-1.png"),
])
async def test_unknown_model_layer_or_filter_is_a_404_with_one_clear_line(client, path, line):
    status, headers, body = await get(client, path)
    assert status == 404, path
    assert_security_headers(headers)
    paragraphs = [html.unescape(p) for p in re.findall(r'<p class="muted">(.*?)</p>', body.decode(), re.S)]
    assert len(paragraphs) == 1 and line in paragraphs[0] and "\n" not in paragraphs[0], paragraphs


async def test_status_endpoints_answer_json_404s(client):
    for path, line in (
        (f"/atlas/{MODEL}/{LAYER}/status?page=8", "page 8 is past the end"),
        (f"/atlas/{MODEL}/{LAYER}/status?page=x", "page must be a number"),
        (f"/atlas/{MODEL}/{LAYER}/500/status", "out of range"),
        (f"/atlas/{MODEL}/mixed9/status", "unknown layer"),
    ):
        status, headers, body = await get_json(client, path)
        assert status == 404 and line in body["error"], (path, body)
        assert headers["Cache-Control"] == "no-store"


async def test_standalone_shows_placeholders_then_serves_what_a_build_put_in_the_cache(client, standalone):
    layer = "block11"  # a layer no other test renders
    channels = catalog.get_info(MODEL).channels[layer]
    status, headers, body = await get(client, f"/atlas/{MODEL}/{layer}")
    text = body.decode()
    assert status == 200
    assert headers["Content-Encoding"] in ("gzip", "deflate")  # every filter's cell: big but repetitive
    assert text.count("data-pending") == channels and "<img src=\"/atlas/" not in text
    assert f"run <code>dreambot atlas build --model {MODEL} --layers {layer}</code>" in text
    status, _, s = await get_json(client, f"/atlas/{MODEL}/{layer}/status?page=2")
    assert (status, s["images"], s["missing"], s["renderer"]) == (200, {}, list(range(16, 32)), False)

    await asyncio.to_thread(put, standalone.cache, layer, range(16, 20), GRID_SIZE)
    status, _, s = await get_json(client, f"/atlas/{MODEL}/{layer}/status?page=2")
    assert sorted(map(int, s["images"])) == [16, 17, 18, 19]
    assert s["missing"] == list(range(20, 32))
    url = s["images"]["17"]
    assert re.fullmatch(rf"/atlas/{MODEL}/{layer}/17/128-0\.png\?v=[0-9a-f]{{16}}", url)
    status, headers, data = await get(client, url)
    assert status == 200 and data == png(17, GRID_SIZE)
    assert headers["Content-Type"] == "image/png"
    assert "immutable" in headers["Cache-Control"]
    assert_security_headers(headers)
    status, _, _ = await get(client, url, headers={"If-None-Match": headers["ETag"]})
    assert status == 304
    # the grid now has the four pictures, the rest are still placeholders
    text = (await get(client, f"/atlas/{MODEL}/{layer}"))[2].decode()
    assert text.count("data-pending") == channels - 4
    assert f'src="{html.escape(url)}"' in text


async def test_in_the_bot_a_missing_filter_is_ordered_once_at_a_time(in_bot):
    renderer = in_bot.renderer
    renderer.gate = asyncio.Event()
    async with aiohttp.ClientSession(base_url=in_bot.base) as c:
        path = f"/atlas/{MODEL}/{LAYER}/status?page=1"
        first = [await get_json(c, path) for _ in range(3)]
        assert all(s["renderer"] and s["rendering"] and s["images"] == {} for _, _, s in first)
        assert len(renderer.orders) == 1  # asked three times, ordered once
        assert renderer.orders[0].filters == tuple(range(16)) and renderer.orders[0].size == GRID_SIZE
        renderer.gate.set()
        s = await status_until(c, path, lambda s: not s["rendering"])
        assert sorted(map(int, s["images"])) == list(range(16)) and s["missing"] == []
        assert len(renderer.orders) == 1
        # a filter's page orders one large render with its diversity images
        path = f"/atlas/{MODEL}/{LAYER}/5/status"
        _, _, s = await get_json(c, path)
        assert s["rendering"] and s["main"] is None and s["grid"] is not None  # the small one meanwhile
        s = await status_until(c, path, lambda s: s["main"] and not s["rendering"])
        order = renderer.orders[-1]
        assert (order.filters, order.size, order.single) == ((5,), LARGE_SIZE, True)
        assert s["main"].startswith(f"/atlas/{MODEL}/{LAYER}/5/{LARGE_SIZE}-0.png?v=")
        assert len(s["variants"]) == order.diversity - 1 >= 1
        assert len(renderer.orders) == 2


async def test_a_failed_render_says_so_and_is_not_asked_again_at_once(in_bot):
    in_bot.renderer.fail = "the dream service is not running right now"
    in_bot.renderer.delay = 0
    async with aiohttp.ClientSession(base_url=in_bot.base) as c:
        path = f"/atlas/{MODEL}/{LAYER}/status?page=3"
        await get_json(c, path)
        s = await status_until(c, path, lambda s: not s["rendering"])
        assert s["failed"] == "the dream service is not running right now"
        assert len(in_bot.renderer.orders) == 1  # not again within RETRY_AFTER_S
        assert RETRY_AFTER_S >= 30
        # a render that ends well but never reaches the cache is not asked again and again either
        in_bot.renderer.fail = None
        in_bot.renderer.cache = AtlasCache(in_bot.cache.root.parent / "elsewhere", 1 << 20)
        path = f"/atlas/{MODEL}/{LAYER}/status?page=4"
        await get_json(c, path)
        s = await status_until(c, path, lambda s: not s["rendering"])
        assert s["failed"] == UNSTORED and "DREAMBOT_ATLAS_DIR" in UNSTORED and s["images"] == {}
        assert len(in_bot.renderer.orders) == 2


async def test_filter_page_has_the_dream_line_and_the_gallerys_dreams(client, served):
    s = served.seeded
    status, headers, body = await get(client, f"/atlas/{MODEL}/{LAYER}/97")
    assert status == 200
    assert_security_headers(headers)
    text = body.decode()
    assert '<code class="command" id="dream-line">/dream layer:mixed4:97</code>' in text
    dreams = re.search(r'<section class="atlas-dreams">(.*?)</section>', text, re.S).group(1)
    with_filter, _, with_layer = dreams.partition("Dreams with layer")
    assert re.findall(r'data-dream-id="(\d+)"', with_filter) == [str(s.params_entry)]
    layer_ids = {int(x) for x in re.findall(r'data-dream-id="(\d+)"', with_layer)}
    assert layer_ids and s.params_entry not in layer_ids
    # never hidden, unpublished, opted-out or unlisted dreams (the seeded ones use the default layer)
    hidden = {s.hidden_entry, s.unpublished_entry, s.opted_out_entry, *s.unlisted_entries, s.off_entry}
    assert not layer_ids & hidden
    # another filter has no dream of its own (97 is not 9)
    text = (await get(client, f"/atlas/{MODEL}/{LAYER}/9"))[2].decode()
    assert "No published dream used this filter yet" in text
    # another model's filter page says /dream ... model:
    text = (await get(client, "/atlas/googlenet/inception4c/3"))[2].decode()
    assert "/dream layer:mixed4:3 model:googlenet" in text


async def test_dream_page_links_to_the_atlas(client, served):
    text = (await get(client, f"/d/{served.seeded.params_entry}"))[2].decode()
    assert f'<a href="/atlas/{MODEL}/{LAYER}/97">mixed4 filter 97</a>' in text
    text = (await get(client, f"/d/{served.seeded.public_entries[1]}"))[2].decode()  # the default layer
    assert f'<a href="/atlas/{MODEL}/{LAYER}">layer mixed4</a>' in text



async def test_the_executors_atlas_jobs_render_what_the_pages_read(web_env, tmp_path):
    """Inside the bot (an executor with ``submit_atlas``) the pages order atlas jobs; the renders
    a job brings back (from a Ray node, say: nothing written to this machine's cache) are
    kept in the site's cache and fill the very cells and views the pages look up."""
    from types import SimpleNamespace

    from aiohttp import web

    from bot.metrics import Metrics
    from bot.web import create_web_app
    from bot.web.atlas_renders import WEB_USER_ID
    from dream_core.atlas.cache import AtlasCache
    from dream_core.atlas.lookup import card_keys, sheet_keys
    from dream_core.executor.atlas_jobs import AtlasJob

    class Job:
        def __init__(self, renders):
            self.renders = renders

        async def result(self):
            await asyncio.sleep(0.05)
            return SimpleNamespace(data=b"PNG", renders=self.renders)

    class Executor:  # the edge: what the bot's executor offers the web (see bot/runner.py)
        def __init__(self):
            self.jobs = []

        async def submit_atlas(self, atlas, *, user_id, guild_id=None):
            self.jobs.append((atlas, user_id, guild_id))
            target = atlas.check()
            if atlas.single:
                keys = card_keys(target, atlas.filters[0], atlas.render_size, atlas.render_diversity)
            else:
                keys = sheet_keys(target, atlas.filters, atlas.render_size)
            return Job(tuple((k.digest, png(k.filter, k.size, k.variant)) for k in keys))

    executor = Executor()
    store, _, settings = web_env
    app = create_web_app(store, store.files, settings=settings, metrics=Metrics(), executor=executor,
                         atlas_cache=AtlasCache(tmp_path, 1 << 24))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{runner.addresses[0][1]}") as c:
            s = await status_until(c, f"/atlas/{MODEL}/{LAYER}/status?page=2", lambda s: not s["missing"])
            assert sorted(map(int, s["images"])) == list(range(16, 32)) and s["renderer"] is True
            assert (await get(c, s["images"]["20"]))[2] == png(20, GRID_SIZE)
            s = await status_until(c, f"/atlas/{MODEL}/{LAYER}/5/status", lambda s: s["main"] and not s["rendering"])
            assert (await get(c, s["main"]))[2] == png(5, LARGE_SIZE, 0)
            assert [(await get(c, url))[2] for url in s["variants"]] == [png(5, LARGE_SIZE, v) for v in (1, 2, 3)]
    finally:
        await runner.cleanup()
    (sheet, user, guild), (card, _, _) = executor.jobs  # each ordered once
    assert isinstance(sheet, AtlasJob) and (user, guild) == (WEB_USER_ID, None)
    assert (sheet.model, sheet.layer, sheet.filters, sheet.single) == (MODEL, LAYER, tuple(range(16, 32)), False)
    assert (card.filters, card.single) == ((5,), True)
