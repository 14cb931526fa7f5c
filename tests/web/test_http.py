"""The gallery over plain HTTP (aiohttp client against the real app on a real port):
visibility rules, paging and sorting, pictures (content types, ETag, 304),
security headers, escaping, path traversal, /healthz and /metrics."""

from __future__ import annotations

import hashlib
import io
import re

import aiohttp
import pytest
from PIL import Image
from yarl import URL

from tests.web.conftest import EVIL_NAME, OFF_GUILD, PAGE_SIZE, PUBLIC_GUILD, UNLISTED_GUILD, get

pytestmark = pytest.mark.asyncio(loop_scope="session")

SECURITY = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def entry_ids(body: bytes) -> list[int]:
    return [int(x) for x in re.findall(rb'data-dream-id="(\d+)"', body)]


def assert_security_headers(headers):
    for name, value in SECURITY.items():
        assert headers.get(name) == value, name
    csp = headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp


# --------------------------------------------------------------------------- pages
async def test_front_page_lists_only_public_galleries(http, served):
    status, headers, body = await get(http, "/")
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert_security_headers(headers)
    text = body.decode()
    assert "Dream Club" in text
    assert f"/g/{PUBLIC_GUILD}" in text
    assert "Secret Garden" not in text and str(UNLISTED_GUILD) not in text
    assert "Closed Shop" not in text
    assert f"{len(served.seeded.public_entries)} dreams" in text


async def test_gallery_recent_paging_covers_every_visible_dream_once(http, served):
    s = served.seeded
    expected = sorted(s.public_entries, reverse=True)  # newest first
    seen = []
    page = 1
    while True:
        status, headers, body = await get(http, f"/g/{PUBLIC_GUILD}?page={page}")
        assert status == 200, page
        ids = entry_ids(body)
        assert 0 < len(ids) <= PAGE_SIZE
        seen += ids
        if b'rel="next"' not in body:
            break
        page += 1
    assert seen == expected
    assert page == -(-len(expected) // PAGE_SIZE)
    # past the last page, and nonsense pages, are 404
    for bad in (page + 1, 0, "abc", "-1", "1e3", "²", "٣", "01", "9" * 40):
        assert (await get(http, f"/g/{PUBLIC_GUILD}?page={bad}"))[0] == 404, bad
    assert (await get(http, f"/g/{PUBLIC_GUILD}?sort=oldest"))[0] == 404


async def test_gallery_top_sort_orders_by_votes_then_newest(http, served):
    s = served.seeded
    expected = sorted(s.public_entries, key=lambda e: (-s.votes[e], -e))
    seen = []
    for page in range(1, 10):
        status, _, body = await get(http, f"/g/{PUBLIC_GUILD}?sort=top&page={page}")
        if status == 404:
            break
        seen += entry_ids(body)
        assert b'aria-current="page">Top<' in body
    assert seen == expected
    status, _, body = await get(http, f"/g/{PUBLIC_GUILD}?sort=top")
    # paging links keep the sort
    assert f"/g/{PUBLIC_GUILD}?sort=top&amp;page=2".encode() in body


async def test_hidden_unpublished_opted_out_and_closed_dreams_are_404(http, served):
    s = served.seeded
    listed = set()
    for page in (1, 2, 3):
        listed |= set(entry_ids((await get(http, f"/g/{PUBLIC_GUILD}?page={page}"))[2]))
    for entry in (s.hidden_entry, s.unpublished_entry, s.opted_out_entry, s.off_entry, 999_999):
        assert entry not in listed
        for path in (f"/d/{entry}", f"/img/{entry}/result", f"/img/{entry}/source", f"/img/{entry}/thumb"):
            status, headers, body = await get(http, path)
            assert status == 404, path
            assert_security_headers(headers)
    assert (await get(http, f"/g/{OFF_GUILD}"))[0] == 404
    assert (await get(http, "/g/424242"))[0] == 404
    for huge in ("9" * 19, "9" * 20, "9" * 21, str(2**63)):
        assert (await get(http, f"/g/{huge}"))[0] == 404, huge
        assert (await get(http, f"/d/{huge}"))[0] == 404, huge
        assert (await get(http, f"/img/{huge}/thumb"))[0] == 404, huge


async def test_unlisted_gallery_needs_its_key(http, served):
    s = served.seeded
    key = s.unlisted_token
    entry = s.unlisted_entries[0]
    for path in (f"/g/{UNLISTED_GUILD}", f"/d/{entry}", f"/img/{entry}/result"):
        assert (await get(http, path))[0] == 404
        assert (await get(http, path, params={"key": key[:-1] + ("A" if key[-1] != "A" else "B")}))[0] == 404
        assert (await get(http, path, params={"key": "x" * 500}))[0] == 404
    status, headers, body = await get(http, f"/g/{UNLISTED_GUILD}", params={"key": key})
    assert status == 200
    assert headers["Cache-Control"] == "private, no-cache"
    assert headers["X-Robots-Tag"] == "noindex, nofollow, noarchive"
    assert b'<meta name="robots" content="noindex">' in body
    assert sorted(entry_ids(body)) == sorted(s.unlisted_entries)
    # every link and picture on the page carries the key, so the page works as shared
    assert f"/d/{entry}?key={key}".encode() in body
    assert re.search(rf"/img/{entry}/thumb\?v=[0-9a-f]{{16}}&amp;key={key}".encode(), body)
    status, headers, _ = await get(http, f"/img/{entry}/result", params={"key": key})
    assert status == 200 and headers["Cache-Control"] == "private, max-age=300, must-revalidate"
    assert headers["X-Robots-Tag"].startswith("noindex")
    # the short link redirects to the gallery with its key
    status, headers, _ = await get(http, f"/u/{key}")
    assert status == 302
    assert headers["Location"] == f"/g/{UNLISTED_GUILD}?key={key}"
    assert (await get(http, "/u/" + "Z" * 32))[0] == 404


async def test_dream_page_shows_command_params_votes_and_author(http, served):
    s = served.seeded
    status, headers, body = await get(http, f"/d/{s.params_entry}")
    assert status == 200
    assert_security_headers(headers)
    assert headers["Cache-Control"] == "public, no-cache" and "X-Robots-Tag" not in headers
    text = body.decode()
    p = s.params
    command = re.search(r'<code class="command" id="command">([^<]*)</code>', text).group(1)
    assert command == f"/dream layer:mixed4:97 strength:high iterations:17 seed:{p.seed}"
    cli = re.search(r'<code class="command" id="cli-command">([^<]*)</code>', text).group(1)
    assert cli == f"dreambot dream original.png --layer mixed4:97 --strength high --iterations 17 --seed {p.seed}"
    assert '<strong class="author"><bdi>Alice</bdi></strong>' in text
    assert f'<span class="score">{s.votes[s.params_entry]}</span>' in text
    assert f"/img/{s.params_entry}/result" in text and f"/img/{s.params_entry}/source" in text
    assert 'class="compare"' in text and 'role="slider"' in text
    assert "<th scope=\"row\">octave scale</th>" in text
    # an mp4 dream plays in <video>, an animated WebP in <img>; a dream from noise has no slider
    body = (await get(http, f"/d/{s.video_entry}"))[2].decode()
    video = rf'<video class="dream-media" src="/img/{s.video_entry}/result\?v=[0-9a-f]+"[^>]*autoplay loop muted'
    assert re.search(video, body)
    body = (await get(http, f"/d/{s.animated_entry}"))[2].decode()
    assert f'<img class="dream-media" src="/img/{s.animated_entry}/result?v=' in body and "animated" in body
    body = (await get(http, f"/d/{s.noise_entry}"))[2].decode()
    assert 'class="compare"' not in body and "slider.js" not in body
    assert (await get(http, f"/img/{s.noise_entry}/source"))[0] == 404


async def test_user_text_is_escaped_everywhere(http, served):
    s = served.seeded
    from markupsafe import escape

    escaped = str(escape(EVIL_NAME)).encode()
    for path in (f"/d/{s.evil_entry}", f"/g/{PUBLIC_GUILD}?page=1"):
        body = (await get(http, path))[2]
        assert EVIL_NAME.encode() not in body
        assert b"<script>alert" not in body and b"onerror=alert" not in body.replace(b"onerror=alert(1)&gt;", b"")
        assert escaped in body


# ------------------------------------------------------------------------ pictures
@pytest.mark.parametrize(
    "which, content_type",
    [("params_entry", "image/png"), ("evil_entry", "image/jpeg"), ("animated_entry", "image/webp"),
     ("video_entry", "video/mp4")],
)
async def test_pictures_have_content_type_etag_and_short_cache(http, served, which, content_type):
    s = served.seeded
    entry = getattr(s, which)
    status, headers, body = await get(http, f"/img/{entry}/result")
    assert status == 200
    assert headers["Content-Type"] == content_type
    sha = hashlib.sha256(body).hexdigest()
    assert headers["ETag"] == f'"{sha}"'
    assert sha == s.result_sha[entry]
    assert headers["Cache-Control"] == "public, max-age=300, s-maxage=0, must-revalidate"
    assert_security_headers(headers)
    # the versioned URL the pages use is pinned to these bytes (a stale version is 404), but it is
    # cached no longer than a bare one: the entry may be hidden at any time (shared caches ask every time)
    status, headers, body = await get(http, f"/img/{entry}/result", params={"v": sha[:16]})
    assert status == 200 and hashlib.sha256(body).hexdigest() == sha
    assert headers["Cache-Control"] == "public, max-age=300, s-maxage=0, must-revalidate"
    assert (await get(http, f"/img/{entry}/result", params={"v": "0" * 16}))[0] == 404
    # revalidation: 304 with no body, for exact, weak and listed validators
    for validator in (f'"{sha}"', f'W/"{sha}"', f'"nope", "{sha}"', "*"):
        status, h304, body304 = await get(http, f"/img/{entry}/result", headers={"If-None-Match": validator})
        assert status == 304, validator
        assert body304 == b"" and h304["ETag"] == f'"{sha}"'
    status, _, _ = await get(http, f"/img/{entry}/result", headers={"If-None-Match": '"0000"'})
    assert status == 200


async def test_source_and_thumbnails(http, served):
    s = served.seeded
    entry = s.params_entry
    status, headers, body = await get(http, f"/img/{entry}/source")
    assert status == 200 and headers["Content-Type"] == "image/png"
    assert hashlib.sha256(body).hexdigest() == s.source_sha[entry]
    for e in (entry, s.video_entry, s.animated_entry):
        status, headers, body = await get(http, f"/img/{e}/thumb")
        assert status == 200, e
        assert headers["Content-Type"] in ("image/webp", "image/jpeg")
        assert headers["ETag"] == f'"{hashlib.sha256(body).hexdigest()}"'
        img = Image.open(io.BytesIO(body))
        assert 0 < max(img.size) <= 480
        assert (await get(http, f"/img/{e}/thumb", headers={"If-None-Match": headers["ETag"]}))[0] == 304


async def test_dreamed_clips_show_their_originals_in_kind(http, served):
    """A GIF clip's original is an <img> and its CLI line names original.gif; a WebM original
    is a <video>, served as video/webm with byte ranges; both get thumbnails."""
    s = served.seeded
    body = (await get(http, f"/d/{s.gif_clip_entry}"))[2].decode()
    assert re.search(rf'<figure class="original panel">\s*<img src="/img/{s.gif_clip_entry}/source\?v=', body)
    cli = re.search(r'<code class="command" id="cli-command">([^<]*)</code>', body).group(1)
    assert cli.startswith("dreambot dream original.gif ")
    body = (await get(http, f"/d/{s.webm_clip_entry}"))[2].decode()
    assert re.search(rf'<figure class="original panel">\s*<video src="/img/{s.webm_clip_entry}/source\?v=', body)
    assert re.search(rf'<div class="before">\s*<video src="/img/{s.webm_clip_entry}/source', body)
    assert "dreambot dream original.webm " in body
    status, headers, whole = await get(http, f"/img/{s.webm_clip_entry}/source")
    assert status == 200 and headers["Content-Type"] == "video/webm" and whole[:4] == b"\x1a\x45\xdf\xa3"
    status, headers, part = await get(http, f"/img/{s.webm_clip_entry}/source", headers={"Range": "bytes=4-99"})
    assert status == 206 and part == whole[4:100] and headers["Content-Range"] == f"bytes 4-99/{len(whole)}"
    for e in (s.gif_clip_entry, s.webm_clip_entry):
        status, headers, body = await get(http, f"/img/{e}/thumb")
        assert status == 200 and headers["Content-Type"] in ("image/webp", "image/jpeg"), e


@pytest.mark.parametrize(
    "raw_path",
    [
        "/img/../../etc/passwd",
        "/img/%2e%2e/%2e%2e/etc/passwd",
        "/img/..%2f..%2fetc%2fpasswd",
        "/img/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/img/1/../../../etc/passwd",
        "/img/1/result/../../../../etc/passwd",
        "/img/1/%2e%2e%2f%2e%2e%2fbot%2fsettings.py",
        "/img/..%5c..%5cetc%5cpasswd",
        "/img/1%00/result",
        "/img/" + "0" * 64,
        "/static/../app.py",
        "/static/%2e%2e/app.py",
        "/static/..%2fapp.py",
        "/static/gallery.css/../../app.py",
        "/etc/passwd",
        "/d/../../etc/passwd",
    ],
)
async def test_path_traversal_is_404(served, raw_path):
    async with aiohttp.ClientSession() as session:
        url = URL(served.base + raw_path, encoded=True)
        async with session.get(url, allow_redirects=False) as r:
            body = await r.read()
            assert r.status == 404, raw_path
            assert b"root:" not in body and b"BaseSettings" not in body
            assert r.headers["X-Content-Type-Options"] == "nosniff"


# --------------------------------------------------------------------- static files
async def test_static_files_are_versioned_and_typed(http):
    body = (await get(http, "/"))[2].decode()
    css_url = re.search(r'href="(/static/gallery\.css\?v=[0-9a-f]{12})"', body).group(1)
    status, headers, css = await get(http, css_url)
    assert status == 200
    assert headers["Content-Type"] == "text/css; charset=utf-8"
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert b".compare" in css
    assert (await get(http, css_url, headers={"If-None-Match": headers["ETag"]}))[0] == 304
    status, headers, _ = await get(http, "/static/gallery.css?v=old")
    assert status == 200 and "immutable" not in headers["Cache-Control"]
    status, headers, js = await get(http, "/static/slider.js")
    assert status == 200 and headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert (await get(http, "/static/nothing.css"))[0] == 404


async def test_error_pages_are_html_with_security_headers(http):
    status, headers, body = await get(http, "/no/such/page")
    assert status == 404
    assert headers["Content-Type"].startswith("text/html")
    assert_security_headers(headers)
    assert b"Not found" in body
    async with http.post("/") as r:
        assert r.status == 405
        assert r.headers["X-Content-Type-Options"] == "nosniff"


# ---------------------------------------------------------------------- operations
async def test_healthz_ok_and_metrics_text(http, served):
    from prometheus_client.parser import text_string_to_metric_families

    status, headers, body = await get(http, "/healthz")
    assert status == 200
    assert headers["Content-Type"].startswith("application/json")
    assert headers["Cache-Control"] == "no-store"
    import json

    data = json.loads(body)
    assert data["status"] == "ok" and data["checks"]["store"]["ok"] is True
    assert "executor" not in data["checks"]

    from aiohttp.test_utils import TestClient, TestServer

    from bot.web import create_metrics_app
    from bot.web.keys import METRICS_KEY

    # /metrics is not on the gallery's port
    assert (await get(http, "/metrics"))[0] == 404
    metrics = served.app[METRICS_KEY]
    metrics.job_done(seconds=3.0)
    metrics.observe_interaction(0.2, "dream")
    async with TestClient(TestServer(create_metrics_app(served.store, metrics=metrics))) as ops:
        r = await ops.get("/metrics")
        status, headers, body = r.status, r.headers, await r.read()
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=")
    names = {f.name for f in text_string_to_metric_families(body.decode())}
    assert {
        "dreambot_jobs",
        "dreambot_queue_depth",
        "dreambot_dream_seconds",
        "dreambot_worker_restarts",
        "dreambot_discord_interaction_seconds",
    } <= names
    assert 'dreambot_jobs_total{status="done"} 1.0' in body.decode()
    # dreams by status straight from the database: every seeded dream is done
    from bot.store.models import Dream

    async with served.store.db.read() as session:
        from sqlalchemy import func, select

        total = await session.scalar(select(func.count()).select_from(Dream))
    text = body.decode()
    assert f'dreambot_dreams{{status="done"}} {float(total)}' in text
    assert 'dreambot_dreams{status="failed"} 0.0' in text


async def test_healthz_says_draining_while_the_bot_stops(served):
    """SIGTERM: /healthz on both listeners answers 503 "draining" (a load balancer stops
    sending traffic) until the web gallery, which stops last, closes."""
    import json

    from aiohttp.test_utils import TestClient, TestServer

    from bot.metrics import Metrics
    from bot.web import create_metrics_app, create_web_app

    draining = False
    apps = [
        create_web_app(served.store, served.store.files, settings=served.settings, metrics=Metrics(),
                       draining=lambda: draining),
        create_metrics_app(served.store, metrics=Metrics(), draining=lambda: draining),
    ]
    for app in apps:
        async with TestClient(TestServer(app)) as client:
            draining = False
            assert (await client.get("/healthz")).status == 200
            draining = True
            r = await client.get("/healthz")
            assert r.status == 503 and json.loads(await r.read()) == {"status": "draining"}
            assert r.headers["Cache-Control"] == "no-store"


async def test_healthz_and_metrics_with_executor_and_broken_store(tmp_path, served):
    """An executor's status feeds /healthz and /metrics; an unreachable database gives 503."""
    from aiohttp.test_utils import TestClient, TestServer

    from bot.metrics import Metrics
    from bot.store import Database, FileStore, Store
    from bot.web import create_metrics_app, create_web_app
    from dream_core.executor.status import ExecutorStatus, WorkerInfo

    class ExecutorStandIn:
        """Only the part of the executor the web app reads: ``status()``."""

        def __init__(self):
            self.alive = True

        def status(self):
            worker = WorkerInfo(name="w0", device="cpu", alive=self.alive, restarts=2)
            return ExecutorStatus(
                backend="local", running=True, queue_depth=3, running_jobs=1, workers=(worker,),
                workers_alive=int(self.alive), worker_restarts=2,
            )

    executor = ExecutorStandIn()
    metrics = Metrics()
    app = create_metrics_app(served.store, executor=executor, metrics=metrics)
    async with TestClient(TestServer(app)) as client:
        r = await client.get("/healthz")
        data = await r.json()
        assert r.status == 200, data
        assert data["checks"]["executor"] == {
            "ok": True, "workers_alive": 1, "queue_depth": 3, "running_jobs": 1, "worker_restarts": 2, "workers": 1,
        }
        executor.alive = False
        r = await client.get("/healthz")
        data = await r.json()
        assert r.status == 503 and data["status"] == "unavailable"
        assert data["checks"]["executor"]["error"] == "no executor worker is alive"
        text = await (await client.get("/metrics")).text()
        assert "dreambot_queue_depth 3.0" in text
        assert "dreambot_worker_restarts_total 2.0" in text
        assert "dreambot_workers_alive 0.0" in text
        await client.get("/metrics")  # restarts are synced, not added again
        assert "dreambot_worker_restarts_total 2.0" in await (await client.get("/metrics")).text()

    # a database that cannot be opened (its path is a folder)
    broken = Store(Database(f"sqlite+aiosqlite:///{tmp_path}"), FileStore(tmp_path / "files"))
    app = create_web_app(broken, broken.files, settings=served.settings, metrics=Metrics())
    try:
        async with TestClient(TestServer(app)) as client:
            r = await client.get("/healthz")
            data = await r.json()
            assert r.status == 503
            assert data["checks"]["store"]["ok"] is False and data["checks"]["store"]["error"]
            assert str(tmp_path) not in await r.text()  # no paths from the database error
    finally:
        await broken.close()


async def test_byte_ranges_for_video_players(http, served):
    """Safari plays mp4 only from servers that answer byte ranges."""
    entry = served.seeded.video_entry
    _, _, full = await get(http, f"/img/{entry}/result")
    size = len(full)
    cases = {
        "bytes=0-1": (206, full[:2], f"bytes 0-1/{size}"),
        "bytes=0-": (206, full, f"bytes 0-{size - 1}/{size}"),
        "bytes=10-19": (206, full[10:20], f"bytes 10-19/{size}"),
        "bytes=-5": (206, full[-5:], f"bytes {size - 5}-{size - 1}/{size}"),
        f"bytes=5-{size + 100}": (206, full[5:], f"bytes 5-{size - 1}/{size}"),
        "bytes=0-1,5-6": (200, full, None),  # several ranges: the whole file
        "items=0-1": (200, full, None),
        f"bytes={size}-": (416, None, f"bytes */{size}"),
    }
    for header, (status, body, content_range) in cases.items():
        got_status, headers, got = await get(http, f"/img/{entry}/result", headers={"Range": header})
        assert got_status == status, header
        assert headers["Accept-Ranges"] == "bytes"
        assert headers.get("Content-Range") == content_range, header
        if body is not None:
            assert got == body, header
    # If-Range with another validator: the whole (changed) file
    status, _, got = await get(http, f"/img/{entry}/result", headers={"Range": "bytes=0-1", "If-Range": '"old"'})
    assert status == 200 and got == full


async def test_deleted_dreams_disappear(http, served, sample_image):
    """A user's data deleted through the store: their dream's page and pictures are gone."""
    from tests.web.conftest import _finished_dream, dreamlike, encode

    store = served.store
    user, guild = 222_000_000_000_000_099, 111_000_000_000_000_099
    await store.set_gallery_visibility(guild, "public", guild_name="Short-lived")
    d, _, res = await _finished_dream(store, user, "Leaver", guild, "Short-lived", sample_image,
                                      encode(dreamlike(sample_image, 2).rotate(90)))
    entry = (await store.publish(d.id, guild, by_user_id=user)).id
    page = (await get(http, f"/d/{entry}"))[2].decode()
    result_url = re.search(rf'src="(/img/{entry}/result\?v=[0-9a-f]+)"', page).group(1).replace("&amp;", "&")
    assert (await get(http, result_url))[0] == 200
    assert b"Short-lived" in (await get(http, "/"))[2]
    report = await store.delete_user_data(user)
    assert report.dreams == 1
    assert not store.files.exists(res.sha256)
    for path in (f"/d/{entry}", result_url, f"/img/{entry}/source", f"/img/{entry}/thumb"):
        assert (await get(http, path))[0] == 404, path
    assert entry not in entry_ids((await get(http, f"/g/{guild}"))[2])
    assert b"Short-lived" not in (await get(http, "/"))[2]
