"""Keeping outgoing HTTP requests away from private networks (SSRF protection).

The check happens where the connection is made, not before it: a
:class:`GuardedResolver` resolves each host name once and refuses it when any
of its addresses is not public, and :func:`guarded_socket_factory` refuses to
open a socket to a non-public address (this also covers URLs that name an IP
address, which aiohttp never hands to a resolver). The connector connects to
the very addresses that were checked, so a name that answers differently the
second time (DNS rebinding) gains nothing.

:func:`guarded_connector` builds an aiohttp ``TCPConnector`` with both.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable
from typing import Optional, Union

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
#: decides whether an address may be connected to
AddressPolicy = Callable[[IPAddress], bool]

# Special-use ranges that ``ipaddress`` does not flag on every Python version.
_EXTRA_BLOCKED = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",  # "this network"
        "100.64.0.0/10",  # carrier-grade NAT
        "192.0.0.0/24",  # IETF protocol assignments
        "198.18.0.0/15",  # benchmarking
        "fc00::/7",  # unique local
        "fec0::/10",  # site local (deprecated)
        "100::/64",  # discard-only
    )
)
# IPv6 prefixes that carry an IPv4 address in their last 32 bits (NAT64)
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


class AddressRefused(OSError):
    """A connection to a non-public address was refused (the message names no address)."""

    def __init__(self) -> None:
        super().__init__("refused: not a public address")


def _embedded_ipv4(addr: ipaddress.IPv6Address) -> Optional[ipaddress.IPv4Address]:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, NAT64), if any."""
    if addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    if addr.sixtofour is not None:
        return addr.sixtofour
    if any(addr in net for net in _NAT64):
        return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    if addr.teredo is not None:
        return addr.teredo[1]
    return None


def is_public_address(addr: IPAddress) -> bool:
    """Whether ``addr`` is a globally routable unicast address.

    Refused: loopback, private, link-local, carrier-grade NAT, multicast,
    reserved, unspecified and other special-use ranges, IPv4 and IPv6 alike;
    IPv6 addresses that embed an IPv4 address (``::ffff:127.0.0.1``, 6to4,
    NAT64, Teredo) are judged by that IPv4 address.
    """
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.scope_id:
            return False
        inner = _embedded_ipv4(addr)
        if inner is not None and not is_public_address(inner):
            return False
    if (
        addr.is_loopback
        or addr.is_private
        or addr.is_link_local
        or addr.is_multicast
        or addr.is_reserved
        or addr.is_unspecified
        or not addr.is_global
    ):
        return False
    return not any(addr in net for net in _EXTRA_BLOCKED if net.version == addr.version)


_LEGACY_IPV4 = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}\.?$", re.IGNORECASE)


def parse_address(text: str) -> Optional[IPAddress]:
    """``text`` as an IP address, or ``None`` if it is a name.

    Brackets and an IPv6 zone are allowed, and so are the legacy IPv4 spellings
    that C resolvers accept (``2130706433``, ``0x7f000001``, ``127.1``,
    ``0177.0.0.1``): they are read the way a resolver would read them.
    """
    text = text.strip("[]")
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    if _LEGACY_IPV4.match(text):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(text.rstrip(".")))
        except OSError:
            return None
    return None


class GuardedResolver(AbstractResolver):
    """Resolves through ``inner`` and refuses a name if any of its addresses is not public.

    ``policy`` decides what is public (tests widen it for one test address;
    everything else still goes through :func:`is_public_address`).
    """

    def __init__(self, inner: Optional[AbstractResolver] = None, *, policy: AddressPolicy = is_public_address):
        self._inner = inner if inner is not None else aiohttp.ThreadedResolver()
        self._policy = policy

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if not results:
            raise OSError(f"no address for {host}")
        for result in results:
            addr = parse_address(result["host"])
            if addr is None or not self._policy(addr):
                raise AddressRefused()
        return results

    async def close(self) -> None:
        await self._inner.close()


def guarded_socket_factory(policy: AddressPolicy = is_public_address) -> Callable[..., socket.socket]:
    """A ``TCPConnector(socket_factory=...)`` that opens sockets to public addresses only.

    It sees the exact address about to be connected to, whether it came from
    the resolver or straight from the URL.
    """

    def factory(addr_info: tuple) -> socket.socket:
        family, kind, proto, _, sockaddr = addr_info
        addr = parse_address(str(sockaddr[0]))
        if addr is None or not policy(addr):
            raise AddressRefused()
        return socket.socket(family=family, type=kind, proto=proto)

    return factory


def guarded_connector(
    *,
    allow_private: bool = False,
    policy: AddressPolicy = is_public_address,
    resolver: Optional[AbstractResolver] = None,
) -> aiohttp.TCPConnector:
    """A connector for fetching user-given URLs.

    Unless ``allow_private``, every name is resolved once by a
    :class:`GuardedResolver` and every socket goes through
    :func:`guarded_socket_factory`. ``resolver`` (default: aiohttp's threaded
    resolver) is the one asked for addresses.
    """
    if allow_private:
        return aiohttp.TCPConnector(resolver=resolver, use_dns_cache=False)
    return aiohttp.TCPConnector(
        resolver=GuardedResolver(resolver, policy=policy),
        socket_factory=guarded_socket_factory(policy),
        use_dns_cache=False,
    )


def refused_by_guard(exc: BaseException) -> bool:
    """Whether ``exc`` (an aiohttp error) comes from :class:`AddressRefused`."""
    seen: set[int] = set()
    current: Optional[BaseException] = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, AddressRefused):
            return True
        seen.add(id(current))
        os_error = getattr(current, "os_error", None)
        if isinstance(os_error, AddressRefused):
            return True
        current = current.__cause__ or current.__context__
    return False
