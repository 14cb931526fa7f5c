"""``image_url`` as an attacker would use it, against real servers on 127.0.0.1.

Two real aiohttp servers run on loopback: the *secret* one (127.0.0.1 and
[::1], one port) stands for an internal service and must never receive a
request; the *public* one (127.0.0.2, the same port) stands for a website on
the internet. Only two things are faked, both at the very edge: a resolver
that maps made-up names (``public.test``, ``rebind.test``) to those addresses,
and an address policy that calls 127.0.0.2 public. Everything else (the real
guard, the connector, the redirect loop, the refusal messages) is the
production code.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import io
import ipaddress
import socket
from dataclasses import dataclass, field

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.abc import AbstractResolver
from PIL import Image

from bot.attachments import ImageLimits, ImageRejected, fetch_image, ref_from_url
from bot.net_guard import (
    AddressRefused,
    GuardedResolver,
    guarded_socket_factory,
    is_public_address,
    parse_address,
    refused_by_guard,
)
from bot.safe_fetch import BAD_LINK, NOT_A_PICTURE, NOT_PUBLIC, UNREACHABLE, FetchPolicy, FetchRefused, fetch_public

aio = pytest.mark.asyncio(loop_scope="session")

PUBLIC_IP = "127.0.0.2"  # "public" for these tests only, through TEST_POLICY
LIMIT = 200_000


def png(colour: tuple[int, int, int], size: tuple[int, int] = (32, 24)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


@functools.cache
def clip_bytes(fmt: str) -> bytes:
    """A 5-frame clip of a moving square (``gif`` or ``mp4``)."""
    from dream_core.clips import encode_clip
    from dream_core.clips.coherence import moving_square_clip

    clip = moving_square_clip(5, (48, 32), side=8)
    return encode_clip(clip.frames, [100] * 5, fmt)


SECRET_PNG = png((255, 0, 0))
PUBLIC_PNG = png((0, 0, 255))


def test_policy(addr) -> bool:
    """The production policy, plus one loopback address that plays the internet."""
    return addr == ipaddress.ip_address(PUBLIC_IP) or is_public_address(addr)


test_policy.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


class MapResolver(AbstractResolver):
    """Answers made-up names from a table (a list of answers is used one per call);
    every other name goes to aiohttp's real threaded resolver."""

    def __init__(self, table: dict[str, list[list[str]]]):
        self.table = {k: list(v) for k, v in table.items()}
        self.calls: list[str] = []
        self.real = aiohttp.ThreadedResolver()

    async def resolve(self, host, port=0, family=socket.AF_INET):
        self.calls.append(host)
        if host not in self.table:
            return await self.real.resolve(host, port, family)
        answers = self.table[host]
        addrs = answers.pop(0) if len(answers) > 1 else answers[0]
        return [
            {"hostname": host, "host": a, "port": port, "family": socket.AF_INET6 if ":" in a else socket.AF_INET,
             "proto": 0, "flags": socket.AI_NUMERICHOST}
            for a in addrs
        ]

    async def close(self):
        await self.real.close()


@dataclass
class Servers:
    port: int
    secret_hits: list[str] = field(default_factory=list)
    public_hits: list[str] = field(default_factory=list)
    resolvers: list[MapResolver] = field(default_factory=list)

    def url(self, host: str, path: str) -> str:
        return f"http://{host}:{self.port}{path}"

    def policy(self, table: dict[str, list[list[str]]] | None = None, **kw) -> FetchPolicy:
        table = {"public.test": [[PUBLIC_IP]], **(table or {})}

        def factory() -> MapResolver:
            r = MapResolver(table)
            self.resolvers.append(r)
            return r

        kw.setdefault("max_bytes", LIMIT)
        return FetchPolicy(address_policy=test_policy, resolver_factory=factory, **kw)


def secret_app(hits: list[str]) -> web.Application:
    async def handler(request: web.Request) -> web.Response:
        hits.append(request.path)
        if request.path == "/secret.png":
            return web.Response(body=SECRET_PNG, content_type="image/png")
        return web.json_response({"internal": "admin token"}, status=404)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    return app


def public_app(hits: list[str], port_of) -> web.Application:
    async def handler(request: web.Request) -> web.StreamResponse:
        hits.append(request.path_qs)
        path = request.path
        if path == "/pic.png":
            return web.Response(body=PUBLIC_PNG, content_type="image/png")
        if path == "/to":  # 302 to ?url=
            raise web.HTTPFound(request.query["url"].replace("PORT", str(port_of())))
        if path.startswith("/chain/"):  # /chain/N: N more redirects before the picture
            n = int(path.rsplit("/", 1)[1])
            raise web.HTTPFound(f"/chain/{n - 1}" if n > 0 else "/pic.png")
        if path.startswith("/drip/"):  # a slow redirect chain: each hop alone is quick enough
            await asyncio.sleep(0.3)
            n = int(path.rsplit("/", 1)[1])
            raise web.HTTPFound(f"/drip/{n - 1}" if n > 0 else "/pic.png")
        if path == "/clip.gif":
            return web.Response(body=clip_bytes("gif"), content_type="image/gif")
        if path == "/clip.mp4":
            return web.Response(body=clip_bytes("mp4"), content_type="video/mp4")
        if path == "/song.mp3":
            return web.Response(body=b"ID3" + b"\0" * 100, content_type="audio/mpeg")
        if path == "/json":
            return web.json_response({"internal": True})
        if path == "/teapot":
            return web.Response(status=418, text="internal detail", content_type="application/json")
        if path == "/big":  # announces more than the limit
            return web.Response(body=b"\0" * (LIMIT + 1), content_type="image/png")
        if path == "/stream":  # no length, more than the limit
            resp = web.StreamResponse(headers={"Content-Type": "image/png"})
            resp.enable_chunked_encoding()
            await resp.prepare(request)
            for _ in range(LIMIT // 10_000 + 5):
                await resp.write(b"\0" * 10_000)
            await resp.write_eof()
            return resp
        if path == "/gzip-bomb":  # tiny on the wire, huge once decompressed
            body = gzip.compress(b"\0" * (LIMIT * 50))
            return web.Response(body=body, headers={"Content-Type": "image/png", "Content-Encoding": "gzip"})
        if path == "/slow":
            resp = web.StreamResponse(headers={"Content-Type": "image/png"})
            await resp.prepare(request)
            await resp.write(b"\x89PNG")
            for _ in range(300):  # until the client gives up
                await asyncio.sleep(0.05)
                if request.transport is None or request.transport.is_closing():
                    break
            return resp
        raise web.HTTPNotFound()

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    return app


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def servers():
    s = Servers(port=0)
    runners = []
    for _attempt in range(20):
        pub = web.AppRunner(public_app(s.public_hits, lambda: s.port))
        await pub.setup()
        await web.TCPSite(pub, PUBLIC_IP, 0).start()
        port = pub.addresses[0][1]
        sec = web.AppRunner(secret_app(s.secret_hits))
        await sec.setup()
        try:
            await web.TCPSite(sec, "127.0.0.1", port).start()
            await web.TCPSite(sec, "::1", port).start()
        except OSError:  # the port is taken on another loopback address: try another
            await sec.cleanup()
            await pub.cleanup()
            continue
        runners = [pub, sec]
        s.port = port
        break
    assert runners, "no free port on both loopback addresses"
    try:
        yield s
    finally:
        for r in runners:
            await r.cleanup()


@pytest.fixture
def clean(servers):
    servers.secret_hits.clear()
    servers.public_hits.clear()
    servers.resolvers.clear()
    yield servers
    assert servers.secret_hits == [], "a request reached the private server"


def assert_generic(message: str, servers: Servers) -> None:
    """A refusal names no status, content type, address or port."""
    for leak in ("404", "418", "json", "127.", "::1", "localhost", str(servers.port), "internal", "HTTP"):
        assert leak not in message, (leak, message)


# ------------------------------------------------------------------ addresses
@pytest.mark.parametrize(
    "text, public",
    [
        ("8.8.8.8", True), ("93.184.216.34", True), ("2001:4860:4860::8888", True),
        ("127.0.0.1", False), ("127.255.1.2", False), ("10.1.2.3", False), ("172.16.0.1", False),
        ("192.168.1.1", False), ("169.254.169.254", False), ("100.64.0.1", False), ("0.0.0.0", False),
        ("224.0.0.1", False), ("240.0.0.1", False), ("255.255.255.255", False), ("192.0.2.1", False),
        ("::1", False), ("::", False), ("fe80::1", False), ("fe80::1%2", False), ("fd12::1", False),
        ("ff02::1", False), ("::ffff:127.0.0.1", False), ("::ffff:10.0.0.1", False), ("64:ff9b::a00:1", False),
        ("2002:7f00:1::1", False), ("2130706433", False), ("0x7f000001", False), ("127.1", False),
        ("0177.0.0.1", False), ("[::1]", False),
    ],
)
def test_address_policy(text, public):
    addr = parse_address(text)
    assert addr is not None, text
    assert is_public_address(addr) is public


def test_names_are_not_addresses():
    for name in ("example.com", "localhost", "1.2.3.4.5", "deadbeef", "xn--bcher-kva.example"):
        assert parse_address(name) is None, name


# ------------------------------------------------------------- direct targets
@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1:PORT/secret.png",
        "http://localhost:PORT/secret.png",
        "http://[::1]:PORT/secret.png",
        "http://[::ffff:127.0.0.1]:PORT/secret.png",
        "http://2130706433:PORT/secret.png",
        "http://0x7f000001:PORT/secret.png",
        "http://127.1:PORT/secret.png",
        "http://0177.0.0.1:PORT/secret.png",
        "http://0.0.0.0:PORT/secret.png",
        "http://public.test@127.0.0.1:PORT/secret.png",
        "http://public.test:x@localhost:PORT/secret.png",
        "http://LOCALHOST.:PORT/secret.png",
        "file:///etc/passwd",
        "ftp://127.0.0.1/secret.png",
        "gopher://127.0.0.1:PORT/_secret",
        "//127.0.0.1:PORT/secret.png",
        "not a url",
    ],
)
@aio
async def test_private_targets_are_refused(clean, target):
    url = target.replace("PORT", str(clean.port))
    with pytest.raises(FetchRefused) as err:
        await fetch_public(url, clean.policy())
    assert str(err.value) in (NOT_PUBLIC, BAD_LINK, UNREACHABLE), str(err.value)
    if target.startswith("http://") and "@" not in target:
        assert str(err.value) in (NOT_PUBLIC, UNREACHABLE)
    assert_generic(str(err.value), clean)


@aio
async def test_a_public_picture_is_fetched(clean):
    got = await fetch_public(clean.url("public.test", "/pic.png"), clean.policy())
    assert got.data == PUBLIC_PNG and got.content_type == "image/png"
    assert clean.public_hits == ["/pic.png"]


# ------------------------------------------------------------------ redirects
@pytest.mark.parametrize(
    "location",
    ["http://127.0.0.1:PORT/secret.png", "http://localhost:PORT/secret.png", "http://[::1]:PORT/secret.png",
     "http://[::ffff:7f00:1]:PORT/secret.png", "http://2130706433:PORT/secret.png"],
)
@aio
async def test_redirect_to_a_private_address_is_refused(clean, location):
    url = clean.url("public.test", "/to") + "?url=" + location
    with pytest.raises(FetchRefused) as err:
        await fetch_public(url, clean.policy())
    assert str(err.value) in (NOT_PUBLIC, UNREACHABLE)
    if "2130706433" not in location:
        assert str(err.value) == NOT_PUBLIC
    assert len(clean.public_hits) == 1 and clean.public_hits[0].startswith("/to?url=")
    assert_generic(str(err.value), clean)


@pytest.mark.parametrize("location", ["file:///etc/passwd", "ftp://public.test/x.png", "gopher://public.test/"])
@aio
async def test_redirect_to_another_scheme_is_refused(clean, location):
    with pytest.raises(FetchRefused) as err:
        await fetch_public(clean.url("public.test", "/to") + "?url=" + location, clean.policy())
    assert str(err.value) == BAD_LINK


@aio
async def test_redirect_chains_are_limited_to_three_hops(clean):
    got = await fetch_public(clean.url("public.test", "/chain/2"), clean.policy())  # 3 redirects
    assert got.data == PUBLIC_PNG
    assert clean.public_hits == ["/chain/2", "/chain/1", "/chain/0", "/pic.png"]
    clean.public_hits.clear()
    with pytest.raises(FetchRefused) as err:
        await fetch_public(clean.url("public.test", "/chain/3"), clean.policy())  # 4 redirects
    assert str(err.value) == NOT_A_PICTURE
    assert clean.public_hits == ["/chain/3", "/chain/2", "/chain/1", "/chain/0"]


@aio
async def test_refusals_do_not_leak_status_or_content_type(clean):
    for path in ("/json", "/teapot", "/missing"):
        with pytest.raises(FetchRefused) as err:
            await fetch_public(clean.url("public.test", path), clean.policy(),
                               accept=lambda ct: ct is not None and ct.startswith("image/"))
        assert str(err.value) == NOT_A_PICTURE
        assert_generic(str(err.value), clean)
    # the same through the bot's image API
    limits = ImageLimits(max_bytes=LIMIT, max_pixels=10_000_000)
    policy = clean.policy()
    for path in ("/json", "/teapot"):
        with pytest.raises(ImageRejected) as err:
            await fetch_image(ref_from_url(clean.url("public.test", path)), limits, policy=policy)
        assert str(err.value) == NOT_A_PICTURE


# --------------------------------------------------------------- DNS rebinding
@aio
async def test_dns_rebinding_connects_to_the_checked_address(clean):
    """``rebind.test`` answers public first and private second: each fetch resolves the
    name once and connects to exactly that answer, so the private one is refused."""
    policy = clean.policy({"rebind.test": [[PUBLIC_IP], ["127.0.0.1"]]})
    got = await fetch_public(clean.url("rebind.test", "/pic.png"), policy)
    assert got.data == PUBLIC_PNG
    assert clean.resolvers[0].calls == ["rebind.test"]  # one resolution, the one that was checked
    # the second answer (private) is refused where the connection is made
    clean.resolvers.clear()
    policy = clean.policy({"rebind.test": [["127.0.0.1"]]})
    with pytest.raises(FetchRefused) as err:
        await fetch_public(clean.url("rebind.test", "/secret.png"), policy)
    assert str(err.value) == NOT_PUBLIC


@aio
async def test_dns_rebinding_within_one_fetch(clean):
    """A redirect back to the same name: the next hop goes to the address checked for the
    first (or is resolved and checked again), never to the rebound private answer."""
    policy = clean.policy({"rebind.test": [[PUBLIC_IP], ["127.0.0.1"]]})
    url = clean.url("rebind.test", "/to") + "?url=http://rebind.test:PORT/secret.png"
    with pytest.raises(FetchRefused) as err:
        await fetch_public(url, policy)
    assert str(err.value) in (NOT_A_PICTURE, NOT_PUBLIC)
    calls = clean.resolvers[0].calls
    if calls == ["rebind.test"]:  # the checked connection was reused: the public server said 404
        assert clean.public_hits[1:] == ["/secret.png"] and str(err.value) == NOT_A_PICTURE
    else:  # resolved again: the private answer was refused
        assert calls == ["rebind.test", "rebind.test"] and str(err.value) == NOT_PUBLIC
    # a different name on the second hop always needs its own resolution, and is refused
    clean.resolvers.clear()
    policy = clean.policy({"rebind2.test": [["127.0.0.1"]]})
    url = clean.url("public.test", "/to") + "?url=http://rebind2.test:PORT/secret.png"
    with pytest.raises(FetchRefused) as err:
        await fetch_public(url, policy)
    assert str(err.value) == NOT_PUBLIC
    assert clean.resolvers[0].calls == ["public.test", "rebind2.test"]


@aio
async def test_a_name_with_any_private_address_is_refused(clean):
    policy = clean.policy({"mixed.test": [[PUBLIC_IP, "127.0.0.1"]]})
    with pytest.raises(FetchRefused) as err:
        await fetch_public(clean.url("mixed.test", "/pic.png"), policy)
    assert str(err.value) == NOT_PUBLIC
    assert clean.public_hits == []


@aio
async def test_the_socket_factory_refuses_private_addresses_on_its_own(clean):
    """Second layer: even with a resolver that checks nothing, no socket opens to 127.0.0.1."""
    connector = aiohttp.TCPConnector(resolver=MapResolver({"evil.test": [["127.0.0.1"]]}),
                                     socket_factory=guarded_socket_factory(test_policy), use_dns_cache=False)
    async with aiohttp.ClientSession(connector=connector) as session:
        for url in (clean.url("evil.test", "/secret.png"), clean.url("127.0.0.1", "/secret.png"),
                    clean.url("[::1]", "/secret.png")):
            with pytest.raises(aiohttp.ClientError) as err:
                async with session.get(url):
                    pass
            assert refused_by_guard(err.value), url
        async with session.get(clean.url("public.test", "/pic.png").replace("public.test", PUBLIC_IP)) as r:
            assert await r.read() == PUBLIC_PNG


@aio
async def test_guarded_resolver_refuses_localhost():
    resolver = GuardedResolver()
    with pytest.raises(AddressRefused):
        await resolver.resolve("localhost", 80)
    await resolver.close()


# -------------------------------------------------------------- the switch
@aio
async def test_allow_private_switch_allows_everything_but_still_limits_hops(clean):
    policy = clean.policy(allow_private=True)
    got = await fetch_public(clean.url("127.0.0.1", "/secret.png"), policy)
    assert got.data == SECRET_PNG
    got = await fetch_public(clean.url("public.test", "/to") + "?url=http://localhost:PORT/secret.png", policy)
    assert got.data == SECRET_PNG
    with pytest.raises(FetchRefused):
        await fetch_public(clean.url("public.test", "/chain/3"), policy)
    with pytest.raises(FetchRefused):
        await fetch_public("file:///etc/passwd", policy)
    clean.secret_hits.clear()  # those requests were allowed on purpose
    # and through the bot's API, the setting alone is the switch
    limits = ImageLimits(max_bytes=LIMIT, max_pixels=10_000_000, allow_private_urls=True)
    image = await fetch_image(ref_from_url(clean.url("127.0.0.1", "/secret.png")), limits)
    assert (image.width, image.height) == (32, 24)
    clean.secret_hits.clear()
    with pytest.raises(ImageRejected) as err:
        await fetch_image(ref_from_url(clean.url("127.0.0.1", "/secret.png")),
                          ImageLimits(max_bytes=LIMIT, max_pixels=10_000_000))
    assert str(err.value) == NOT_PUBLIC


# ------------------------------------------------------------------ clips
@aio
async def test_clip_links_are_fetched_and_checked_as_clips(clean):
    """An animated GIF or an MP4 link is a clip with its dream plan; audio is not a picture."""
    limits = ImageLimits(max_bytes=LIMIT, max_pixels=10_000_000)
    policy = clean.policy()
    for path in ("/clip.gif", "/clip.mp4"):
        image = await fetch_image(ref_from_url(clean.url("public.test", path)), limits, policy=policy)
        assert image.is_clip and image.clip is not None and image.clip.n_frames == 5, path
        assert image.data == clip_bytes(path.rsplit(".", 1)[1])
    still = await fetch_image(ref_from_url(clean.url("public.test", "/pic.png")), limits, policy=policy)
    assert not still.is_clip
    with pytest.raises(ImageRejected) as err:
        await fetch_image(ref_from_url(clean.url("public.test", "/song.mp3")), limits, policy=policy)
    assert str(err.value) == NOT_A_PICTURE


# ------------------------------------------------------------ bodies and bombs
@pytest.mark.slow  # waits out a slow body's deadline
@aio
async def test_size_bombs_gzip_bombs_and_slow_bodies(clean):
    limits = ImageLimits(max_bytes=LIMIT, max_pixels=10_000_000)
    policy = clean.policy()
    for path in ("/big", "/stream", "/gzip-bomb"):
        with pytest.raises(ImageRejected) as err:
            await fetch_image(ref_from_url(clean.url("public.test", path)), limits, policy=policy)
        assert "limit" in str(err.value), path
    with pytest.raises(ImageRejected) as err:
        await fetch_image(ref_from_url(clean.url("public.test", "/slow")), limits,
                          policy=clean.policy(timeout_s=0.5))
    assert str(err.value) == UNREACHABLE
    # the time limit is for the whole fetch, not for each hop
    with pytest.raises(FetchRefused) as err2:
        await fetch_public(clean.url("public.test", "/drip/2"), clean.policy(timeout_s=0.7))
    assert str(err2.value) == UNREACHABLE
    image = await fetch_image(ref_from_url(clean.url("public.test", "/pic.png")), limits, policy=policy)
    assert (image.width, image.height, image.data) == (32, 24, PUBLIC_PNG)
