"""Which IP addresses a link may make the server connect to (pure).

A server that fetches URLs for its users must never be steered into its own network: loopback,
private ranges, link-local (cloud metadata lives at 169.254.169.254), multicast and everything
not publicly routable. IPv6 forms that carry an IPv4 address (IPv4-mapped, 6to4, NAT64, Teredo)
are unwrapped and judged by the address inside. Hosts in URLs are read the way `inet_aton` and
browsers read them, so `127.1`, `2130706433`, `0x7f.1` and `0177.0.0.1` are all loopback.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Final

__all__ = ["IPAddress", "literal_address", "refusal"]

IPAddress = IPv4Address | IPv6Address

_IPV4_REFUSED: Final = tuple(
    (IPv4Network(network), reason)
    for network, reason in (
        ("0.0.0.0/8", "unspecified"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "carrier-grade NAT"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "reserved"),
        ("192.0.2.0/24", "documentation"),
        ("192.88.99.0/24", "reserved"),
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
    )
)
_IPV4_MAPPED: Final = IPv6Network("::ffff:0:0/96")
_NAT64: Final = IPv6Network("64:ff9b::/96")
_NAT64_LOCAL: Final = IPv6Network("64:ff9b:1::/48")
_SIX_TO_FOUR: Final = IPv6Network("2002::/16")
_TEREDO: Final = IPv6Network("2001::/32")
#: IPv6 refusals checked after the IPv4-carrying forms; outside 2000::/3 nothing is public.
_IPV6_REFUSED: Final = tuple(
    (IPv6Network(network), reason)
    for network, reason in (
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("fc00::/7", "private"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "private"),
        ("ff00::/8", "multicast"),
        ("2001::/23", "reserved"),
        ("2001:db8::/32", "documentation"),
        ("3fff::/20", "documentation"),
    )
)
_GLOBAL_UNICAST: Final = IPv6Network("2000::/3")
_DIGITS: Final = {8: set("01234567"), 10: set("0123456789"), 16: set("0123456789abcdefABCDEF")}


def refusal(address: IPAddress) -> str | None:
    """Why the fetcher must not connect to `address` ("loopback", "private", "link-local",
    "multicast", "reserved", "unspecified", "carrier-grade NAT", ...; an unwrapped form says
    which, as in "loopback in an IPv4-mapped address"); None for a public address."""
    if isinstance(address, IPv4Address):
        return _ipv4_refusal(address)
    inner = _carried_ipv4(address)
    if inner is not None:
        form, carried = inner
        reasons = {reason for ipv4 in carried if (reason := _ipv4_refusal(ipv4)) is not None}
        return f"{min(reasons)} in {form}" if reasons else None
    if address in _NAT64_LOCAL:
        return "private (a local-use NAT64 address)"
    for network, reason in _IPV6_REFUSED:
        if address in network:
            return reason
    return None if address in _GLOBAL_UNICAST else "reserved"


def _ipv4_refusal(address: IPv4Address) -> str | None:
    for network, reason in _IPV4_REFUSED:
        if address in network:
            return reason
    return None


def _carried_ipv4(address: IPv6Address) -> tuple[str, tuple[IPv4Address, ...]] | None:
    """The IPv4 addresses an IPv6 address leads to, and the form that carries them."""
    low32 = IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _IPV4_MAPPED:
        return "an IPv4-mapped address", (low32,)
    if address in _NAT64:
        return "a NAT64 address", (low32,)
    if address in _SIX_TO_FOUR:
        return "a 6to4 address", (IPv4Address((int(address) >> 80) & 0xFFFFFFFF),)
    if address in _TEREDO:
        # The server sits in bits 32-63; the client's address is stored inverted in the last 32.
        server = IPv4Address((int(address) >> 64) & 0xFFFFFFFF)
        return "a Teredo address", (server, IPv4Address(int(low32) ^ 0xFFFFFFFF))
    return None


def literal_address(host: str) -> IPAddress | None:
    """The address a URL host spells, in any form `inet_aton` takes (`127.1`, `2130706433`,
    `0x7f.1`, `0177.0.0.1`, with or without a final dot) or an IPv6 literal with or without
    its brackets (`[::ffff:127.0.0.1]`); None for a name (or a number `inet_aton` refuses)."""
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if ":" in host:
        try:
            return IPv6Address(host)
        except ValueError:
            return None
    return _ipv4_literal(host)


def _ipv4_literal(host: str) -> IPv4Address | None:
    parts = host.removesuffix(".").split(".")
    if not 1 <= len(parts) <= 4:
        return None
    numbers = [_inet_number(part) for part in parts]
    if any(number is None for number in numbers):
        return None
    *leading, last = [number for number in numbers if number is not None]
    if any(number > 0xFF for number in leading) or last >= 256 ** (5 - len(parts)):
        return None
    value = last
    for index, number in enumerate(leading):
        value += number << (8 * (3 - index))
    return IPv4Address(value)


def _inet_number(part: str) -> int | None:
    """One dotted part as inet_aton reads it: 0x hex, leading-zero octal, else decimal."""
    if not part.isascii():
        return None
    if part[:2].lower() == "0x":
        digits, base = part[2:], 16
        if digits == "":
            return 0
    elif len(part) > 1 and part.startswith("0"):
        digits, base = part[1:], 8
    else:
        digits, base = part, 10
    if not digits or not set(digits) <= _DIGITS[base]:
        return None
    return int(digits, base)
