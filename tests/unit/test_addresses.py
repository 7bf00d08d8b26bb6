"""Which addresses the fetcher refuses: every inside range, in every IPv4 spelling and every IPv6
form that carries an IPv4 address; public addresses pass."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scopix.server.domain.addresses import literal_address, refusal

INSIDE_V4 = {
    "0.0.0.0/8": "unspecified",
    "10.0.0.0/8": "private",
    "100.64.0.0/10": "carrier-grade NAT",
    "127.0.0.0/8": "loopback",
    "169.254.0.0/16": "link-local",
    "172.16.0.0/12": "private",
    "192.168.0.0/16": "private",
    "224.0.0.0/4": "multicast",
    "240.0.0.0/4": "reserved",
}
PUBLIC_V4 = ["8.8.8.8", "1.1.1.1", "93.184.215.14", "172.32.0.1", "100.128.0.1", "11.0.0.1"]


def _in(network: str) -> st.SearchStrategy[IPv4Address]:
    net = IPv4Network(network)
    return st.integers(int(net.network_address), int(net.broadcast_address)).map(IPv4Address)


def _inside_v4() -> st.SearchStrategy[tuple[IPv4Address, str]]:
    return st.one_of(
        [_in(network).map(lambda a, r=reason: (a, r)) for network, reason in INSIDE_V4.items()]
    )


@given(_inside_v4())
def test_every_inside_ipv4_address_is_refused_with_its_reason(
    case: tuple[IPv4Address, str],
) -> None:
    address, reason = case
    assert refusal(address) == reason


@given(_inside_v4())
def test_ipv6_forms_carrying_an_inside_ipv4_address_are_refused(
    case: tuple[IPv4Address, str],
) -> None:
    address, reason = case
    value = int(address)
    forms = {
        "an IPv4-mapped address": IPv6Address(f"::ffff:{address}"),
        "a NAT64 address": IPv6Address(f"64:ff9b::{address}"),
        "a 6to4 address": IPv6Address((0x2002 << 112) | (value << 80) | 1),
        # Teredo: a public server, the client's address inverted in the last 32 bits.
        "a Teredo address": IPv6Address(
            (0x20010000 << 96) | (int(IPv4Address("8.8.8.8")) << 64) | (value ^ 0xFFFFFFFF)
        ),
    }
    for form, wrapped in forms.items():
        assert refusal(wrapped) == f"{reason} in {form}"


@pytest.mark.parametrize("public", PUBLIC_V4)
def test_public_addresses_pass_in_every_form(public: str) -> None:
    address = IPv4Address(public)
    assert refusal(address) is None
    assert refusal(IPv6Address(f"::ffff:{public}")) is None
    assert refusal(IPv6Address(f"64:ff9b::{public}")) is None
    assert refusal(IPv6Address((0x2002 << 112) | (int(address) << 80))) is None


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("::", "unspecified"),
        ("::1", "loopback"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("fe80::1", "link-local"),
        ("fec0::1", "private"),
        ("ff02::1", "multicast"),
        ("2001:db8::1", "documentation"),
        ("64:ff9b:1::a00:1", "private (a local-use NAT64 address)"),
        ("::8.8.8.8", "reserved"),  # IPv4-compatible, deprecated
        ("100::1", "reserved"),
        ("4000::1", "reserved"),
        ("255.255.255.255", "reserved"),  # broadcast
        ("169.254.169.254", "link-local"),  # the cloud metadata service
    ],
)
def test_named_inside_addresses(address: str, reason: str) -> None:
    parsed = IPv6Address(address) if ":" in address else IPv4Address(address)
    assert refusal(parsed) == reason


@pytest.mark.parametrize("public", ["2606:4700:4700::1111", "2a00:1450:4001::200e"])
def test_public_ipv6_passes(public: str) -> None:
    assert refusal(IPv6Address(public)) is None


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0X7F.0.0.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("127.0.0.1.", "127.0.0.1"),
        ("0", "0.0.0.0"),
        ("10.1", "10.0.0.1"),
        ("[::1]", "::1"),
        ("::1", "::1"),
        ("[::ffff:127.0.0.1]", "::ffff:7f00:1"),
        ("[::ffff:7f00:1]", "::ffff:7f00:1"),
    ],
)
def test_literal_addresses_in_every_spelling(host: str, address: str) -> None:
    found = literal_address(host)
    assert found is not None and str(found) == address


@pytest.mark.parametrize(
    "host",
    ["example.com", "1.2.3.4.5", "256.0.0.1", "08.0.0.1", "0x1g.0.0.1", "1.16777216", "[::1", ""],
)
def test_names_and_broken_numbers_are_not_addresses(host: str) -> None:
    assert literal_address(host) is None


@given(st.integers(0, 2**32 - 1))
def test_every_ipv4_spelling_reads_as_the_same_address(value: int) -> None:
    address = IPv4Address(value)
    a, b, c, d = address.packed
    spellings = [
        str(value),
        hex(value),
        oct(value).replace("0o", "0"),
        f"{a}.{(b << 16) | (c << 8) | d}",
        f"{a}.{b}.{(c << 8) | d}",
        f"{a:#x}.{b:#o}.{c}.{d:#x}".replace("0o", "0"),
    ]
    for spelling in spellings:
        assert literal_address(spelling) == address, spelling


@given(st.ip_addresses())
def test_refusal_never_fails_and_agrees_with_the_stdlib_on_private(
    address: IPv4Address | IPv6Address,
) -> None:
    reason = refusal(address)
    if address.is_loopback or address.is_link_local or address.is_multicast:
        assert reason is not None
    if isinstance(address, IPv4Address) and address.is_private:
        assert reason is not None
