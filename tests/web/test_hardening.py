"""The gallery against hostile text, hostile requests and caches (over HTTP, real app on a
real port): no software version in ``Server``, no URL built from the ``Host`` header,
``/metrics`` only on its own listener, bidi controls isolated or stripped, and pictures
of a hidden entry gone from every cache within minutes."""

from __future__ import annotations

import asyncio
import re

import aiohttp
import pytest

from bot.web.text import BIDI_CONTROLS
from tests.web.conftest import LONG_GUILD, PUBLIC_GUILD, get

pytestmark = pytest.mark.asyncio(loop_scope="session")

#: the longest a picture of an entry may stay in any cache without asking again
MAX_CACHE_S = 300


def cache_lifetime(cache_control: str) -> int:
    """The longest any cache may reuse a response without revalidating, in seconds."""
    directives = {d.strip().split("=")[0]: d.strip() for d in cache_control.split(",")}
    assert "immutable" not in directives and "stale-while-revalidate" not in directives
    assert "stale-if-error" not in directives
    if "no-store" in directives or "no-cache" in directives:
        return 0
    ages = [int(directives[k].split("=")[1]) for k in ("max-age", "s-maxage") if k in directives]
    assert ages, cache_control
    return max(ages)


# --------------------------------------------------------------------- headers
async def test_server_header_names_no_version(http, served):
    s = served.seeded
    for path in ("/", f"/g/{PUBLIC_GUILD}", f"/d/{s.params_entry}", f"/img/{s.params_entry}/thumb",
                 "/static/gallery.css", "/healthz", "/no/such/page", f"/d/{s.hidden_entry}"):
        status, headers, _ = await get(http, path)
        assert headers["Server"] == "DreamBot", path
    async with http.post("/") as r:
        assert r.status == 405 and r.headers["Server"] == "DreamBot"
    # aiohttp answers malformed requests itself, before the app: no version there either
    host, port = served.base.removeprefix("http://").split(":")
    for raw in (b"GARBAGE\r\n\r\n", b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
                b"GET /" + b"a" * 10_000 + b" HTTP/1.1\r\n\r\n"):
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(raw)
        await writer.drain()
        head = (await reader.read(4096)).split(b"\r\n\r\n")[0].decode()
        writer.close()
        assert head.startswith("HTTP/1.") and " 400 " in head.split("\r\n")[0], head
        assert "aiohttp" not in head and "Python" not in head and "\r\nServer: DreamBot" in head, head


async def test_absolute_urls_never_come_from_the_host_header(http, served):
    s = served.seeded
    assert served.settings.web_url is None
    for path in ("/", f"/g/{PUBLIC_GUILD}", f"/d/{s.params_entry}", f"/d/{s.long_entry}", "/nope",
                 f"/u/{s.unlisted_token}"):
        for host in ("evil.example", "evil.example:8443"):
            status, headers, body = await get(http, path, headers={"Host": host, "X-Forwarded-Host": host})
            assert b"evil.example" not in body, path
            assert "evil.example" not in headers.get("Location", ""), path
    # without a configured base there is no absolute URL at all (og:image would need one)
    body = (await get(http, f"/d/{s.params_entry}", headers={"Host": "evil.example"}))[2].decode()
    assert "og:image" not in body and "http://" not in body and "https://" not in body


async def test_absolute_urls_use_the_configured_base(served):
    from aiohttp.test_utils import TestClient, TestServer

    from bot.metrics import Metrics
    from bot.web import create_web_app

    settings = served.settings.model_copy(update={"web_url": "https://dreams.example.org/"})
    app = create_web_app(served.store, served.store.files, settings=settings, metrics=Metrics())
    entry = served.seeded.params_entry
    async with TestClient(TestServer(app)) as client:
        r = await client.get(f"/d/{entry}", headers={"Host": "evil.example"})
        body = await r.text()
    og = re.search(r'<meta property="og:image" content="([^"]+)">', body).group(1)
    assert og.startswith(f"https://dreams.example.org/img/{entry}/result?v=")
    assert "evil.example" not in body


# --------------------------------------------------------------------- metrics
async def test_metrics_has_its_own_listener(served):
    from bot.web import start_web

    assert served.settings.metrics_host == "127.0.0.1"
    servers = await start_web(served.store, served.store.files, settings=served.settings,
                              host="127.0.0.1", port=0, metrics_host="127.0.0.1", metrics_port=0)
    try:
        gallery_port = servers.addresses[0][1]
        metrics_port = servers.metrics_addresses[0][1]
        assert gallery_port != metrics_port
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{gallery_port}/metrics") as r:
                assert r.status == 404
            async with session.get(f"http://127.0.0.1:{gallery_port}/") as r:
                assert r.status == 200
            async with session.get(f"http://127.0.0.1:{metrics_port}/metrics") as r:
                assert r.status == 200 and "dreambot_jobs_total" in await r.text()
                assert r.headers["Server"] == "DreamBot"
            async with session.get(f"http://127.0.0.1:{metrics_port}/healthz") as r:
                assert r.status == 200
            for path in ("/", f"/g/{PUBLIC_GUILD}", "/static/gallery.css"):  # no gallery there
                async with session.get(f"http://127.0.0.1:{metrics_port}{path}") as r:
                    assert r.status == 404, path
    finally:
        await servers.cleanup()
    # DREAMBOT_METRICS_PORT=0: no metrics listener at all
    off = served.settings.model_copy(update={"metrics_port": 0})
    servers = await start_web(served.store, served.store.files, settings=off, host="127.0.0.1", port=0)
    try:
        assert servers.metrics is None and servers.metrics_addresses == []
    finally:
        await servers.cleanup()


# ------------------------------------------------------------------------ bidi
_BIDI = re.compile(f"[{BIDI_CONTROLS}]")


async def test_bidi_controls_are_isolated_or_stripped(http, served):
    s = served.seeded
    seen_bidi = False
    for path in ("/", f"/g/{LONG_GUILD}", f"/d/{s.long_entry}", f"/d/{s.bidi_entry}"):
        status, _, body = await get(http, path)
        assert status == 200, path
        html = body.decode()
        seen_bidi |= bool(_BIDI.search(html))
        head = html.split("</head>")[0]
        assert not _BIDI.search(head), (path, "bidi control in <title> or <meta>")
        for value in re.findall(r'="([^"]*)"', html):
            assert not _BIDI.search(value), (path, "bidi control in an attribute", value)
        # every one left in the body sits inside a <bdi> (which isolates it)
        outside = re.sub(r"<bdi[^>]*>[^<]*</bdi>", "", html)
        assert not _BIDI.search(outside), path
    assert seen_bidi  # the names really contain them (shown, isolated)


# ------------------------------------------------------------------ caches
def picture_urls(html: str) -> list[str]:
    return [u.replace("&amp;", "&") for u in re.findall(r'(?:src|content)="(/img/[^"]+)"', html)]


async def test_every_picture_of_an_entry_is_cached_for_minutes_at_most(http, served):
    s = served.seeded
    urls = set()
    for path in (f"/g/{PUBLIC_GUILD}", f"/g/{PUBLIC_GUILD}?page=2", f"/d/{s.params_entry}", f"/d/{s.video_entry}",
                 "/", f"/g/{LONG_GUILD}"):
        urls |= set(picture_urls((await get(http, path))[2].decode()))
    key = s.unlisted_token
    urls |= set(picture_urls((await get(http, f"/d/{s.unlisted_entries[0]}", params={"key": key}))[2].decode()))
    assert len(urls) > 8
    for url in sorted(urls):
        status, headers, _ = await get(http, url)
        assert status == 200, url
        assert cache_lifetime(headers["Cache-Control"]) <= MAX_CACHE_S, (url, headers["Cache-Control"])
        assert "must-revalidate" in headers["Cache-Control"]
    # pages are revalidated on every visit, error pages never stored
    for path in ("/", f"/g/{PUBLIC_GUILD}", f"/d/{s.params_entry}", f"/d/{s.hidden_entry}"):
        assert cache_lifetime((await get(http, path))[1]["Cache-Control"]) == 0, path


async def test_a_hidden_entry_stops_being_served_after_revalidation(http, served, sample_image):
    """What a cache holding the pictures sees once a moderator hides the entry: after at most
    MAX_CACHE_S it must ask again, and the answer is a 404 that is not stored, never a 304."""
    from tests.web.conftest import _finished_dream, dreamlike, encode

    store = served.store
    user, guild = 222_000_000_000_000_098, 111_000_000_000_000_098
    await store.set_gallery_visibility(guild, "public", guild_name="Moderated")
    d, _, _ = await _finished_dream(store, user, "Someone", guild, "Moderated", sample_image,
                                    encode(dreamlike(sample_image, 1).rotate(180)))
    entry = (await store.publish(d.id, guild, by_user_id=user)).id
    page = (await get(http, f"/d/{entry}"))[2].decode()
    urls = picture_urls(page) + [u for u in picture_urls((await get(http, f"/g/{guild}"))[2].decode())]
    urls += [f"/img/{entry}/result", f"/img/{entry}/source", f"/img/{entry}/thumb"]
    cached = {}
    for url in urls:
        status, headers, _ = await get(http, url)
        assert status == 200, url
        assert cache_lifetime(headers["Cache-Control"]) <= MAX_CACHE_S
        cached[url] = headers["ETag"]
        # while the entry is visible, revalidation is a cheap 304
        assert (await get(http, url, headers={"If-None-Match": headers["ETag"]}))[0] == 304

    await store.hide_entry(entry, moderator=True)
    await asyncio.sleep(0)
    for url, etag in cached.items():
        for extra in ({"If-None-Match": etag}, {}):
            status, headers, _ = await get(http, url, headers=extra)
            assert status == 404, (url, extra)
            assert cache_lifetime(headers["Cache-Control"]) == 0
    status, headers, _ = await get(http, f"/d/{entry}")
    assert status == 404 and cache_lifetime(headers["Cache-Control"]) == 0
