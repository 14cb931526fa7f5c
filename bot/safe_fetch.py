"""Downloading a user-given URL without letting it reach private networks.

:func:`fetch_public` follows redirects itself (at most :data:`MAX_REDIRECTS`
hops, http and https only), and every hop connects through
:func:`bot.net_guard.guarded_connector`: each host name is resolved once, and
only public addresses are connected to. The body is read up to a byte limit
within one overall time limit.

Failures raise :class:`FetchRefused`, whose message is one generic line for
the user: it never repeats a status code, content type or address that the
far side (or a private server behind a redirect) answered with; the details
go to the log.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Optional

import aiohttp
from aiohttp.abc import AbstractResolver
from yarl import URL

from bot.net_guard import AddressPolicy, guarded_connector, is_public_address, parse_address, refused_by_guard

log = logging.getLogger(__name__)

MAX_REDIRECTS = 3
#: for the whole fetch, redirects included
TIMEOUT_S = 20.0
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

NOT_PUBLIC = "I can only fetch pictures from public websites."
NOT_A_PICTURE = "That link didn't give me a picture."
BAD_LINK = "That link doesn't look right — give me an `https://` link to a picture."
UNREACHABLE = "I couldn't download that picture. Check the link and try again."


class FetchRefused(Exception):
    """The URL can't be fetched; ``str(exc)`` is a generic one-line reason for the user."""


class TooLarge(FetchRefused):
    """The body is (or announces itself) over the byte limit. ``size`` is the announced size, if any."""

    def __init__(self, message: str, size: Optional[int] = None) -> None:
        super().__init__(message)
        self.size = size


@dataclass(frozen=True)
class FetchPolicy:
    """How :func:`fetch_public` may fetch.

    ``allow_private`` lifts the address checks (``DREAMBOT_ALLOW_PRIVATE_IMAGE_URLS``),
    never the redirect limit or the scheme check. ``address_policy`` and
    ``resolver`` are seams for tests (and special deployments).
    """

    max_bytes: int
    allow_private: bool = False
    max_redirects: int = MAX_REDIRECTS
    timeout_s: float = TIMEOUT_S
    address_policy: AddressPolicy = is_public_address
    resolver_factory: Optional[Callable[[], AbstractResolver]] = None


@dataclass(frozen=True)
class Fetched:
    data: bytes
    content_type: Optional[str]
    url: str  # after redirects


def parse_public_url(raw: str) -> URL:
    """``raw`` as an absolute http(s) URL with a host and no credentials, else :class:`FetchRefused`."""
    try:
        url = URL(raw.strip())
    except (ValueError, TypeError):
        raise FetchRefused(BAD_LINK) from None
    if url.scheme not in ("http", "https") or not url.host or not url.is_absolute():
        raise FetchRefused(BAD_LINK)
    if url.user is not None or url.password is not None:
        raise FetchRefused(BAD_LINK)
    return url.with_fragment(None)


def _check_literal(url: URL, policy: FetchPolicy) -> None:
    """An IP address in the URL is checked here (the socket factory checks it again)."""
    if policy.allow_private:
        return
    addr = parse_address(url.raw_host or "")
    if addr is not None and not policy.address_policy(addr):
        raise FetchRefused(NOT_PUBLIC)


async def fetch_public(
    raw_url: str,
    policy: FetchPolicy,
    *,
    accept: Callable[[Optional[str]], bool] = lambda _ctype: True,
) -> Fetched:
    """Download ``raw_url`` (following redirects one checked hop at a time).

    ``accept(content_type)`` is asked before the body is read; ``False`` means
    :data:`NOT_A_PICTURE`. The whole fetch, redirects included, has
    ``policy.timeout_s``.
    """
    url = parse_public_url(raw_url)
    resolver = policy.resolver_factory() if policy.resolver_factory is not None else None
    connector = guarded_connector(allow_private=policy.allow_private, policy=policy.address_policy, resolver=resolver)
    timeout = aiohttp.ClientTimeout(total=policy.timeout_s)
    try:
        async with aiohttp.ClientSession(connector=connector, timeout=timeout, trust_env=False) as session:
            return await asyncio.wait_for(_follow(session, url, policy, accept), policy.timeout_s)
    except FetchRefused:
        raise
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
        if refused_by_guard(exc):
            log.info("fetch: refused a non-public address for %s", url.host)
            raise FetchRefused(NOT_PUBLIC) from None
        log.info("fetch: %s failed: %s", url.host, type(exc).__name__)
        raise FetchRefused(UNREACHABLE) from None


async def _follow(
    session: aiohttp.ClientSession, url: URL, policy: FetchPolicy, accept: Callable[[Optional[str]], bool]
) -> Fetched:
    """GET ``url``, following at most ``policy.max_redirects`` redirects, each one checked."""
    start = url
    for _hop in range(policy.max_redirects + 1):
        _check_literal(url, policy)
        async with session.get(url, allow_redirects=False) as resp:
            if resp.status in REDIRECT_STATUSES:
                location = resp.headers.get("Location")
                if not location:
                    log.info("fetch: redirect without Location from %s", url)
                    raise FetchRefused(NOT_A_PICTURE)
                try:
                    target = url.join(URL(location))
                except ValueError:
                    raise FetchRefused(NOT_A_PICTURE) from None
                url = parse_public_url(str(target))
                continue
            if resp.status != 200:
                log.info("fetch: %s answered %s", url, resp.status)
                raise FetchRefused(NOT_A_PICTURE)
            content_type = resp.headers.get("Content-Type")
            if not accept(content_type):
                log.info("fetch: %s is %s, not accepted", url, content_type)
                raise FetchRefused(NOT_A_PICTURE)
            announced = resp.content_length
            if announced is not None and announced > policy.max_bytes:
                raise TooLarge("too large", announced)
            buf = bytearray()
            async for chunk in resp.content.iter_chunked(64 * 1024):
                buf.extend(chunk)
                if len(buf) > policy.max_bytes:
                    raise TooLarge("too large")
            return Fetched(bytes(buf), content_type, str(url))
    log.info("fetch: more than %d redirects from %s", policy.max_redirects, start)
    raise FetchRefused(NOT_A_PICTURE)
