"""SSRF: with the address rule on (the default), no spelling of an inside address, no name that
resolves inside and no redirect that leads inside gets a request to the local site, whose log
proves it; with `allow_private` the same URLs reach it."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from linkserver import LinkSite
from scopix.server.domain import addresses
from scopix.server.media.links import fetch as fetch_module
from scopix.server.media.links.fetch import FetchFailed, FetchRules, fetch

LITERAL_HOSTS = [
    "127.0.0.1",
    "127.1",
    "127.0.1",
    "2130706433",
    "0x7f.1",
    "0x7f000001",
    "0177.0.0.1",
    "017700000001",
    "127.0.0.1.",
    "%31%32%37.0.0.1",
    "0.0.0.0",
    "0",
    "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]",
    "[::1]",
    "[::]",
    "[64:ff9b::7f00:1]",
    "[2002:7f00:1::]",
    "localhost",
]
#: Names the tests' resolver hook answers with inside addresses (one with a public one first).
INSIDE_NAMES = {
    "inside.test": ("127.0.0.1",),
    "metadata.test": ("169.254.169.254",),
    "private.test": ("10.0.0.1",),
    "home.test": ("192.168.1.1",),
    "cgnat.test": ("100.64.0.1",),
    "mixed.test": ("93.184.215.14", "127.0.0.1"),
    "v6.test": ("::1",),
    "mapped.test": ("::ffff:127.0.0.1",),
    "nat64.test": ("64:ff9b::7f00:1",),
    "sixtofour.test": ("2002:7f00:1::1",),
    "ula.test": ("fd00::1",),
}
REACHABLE_HOSTS = ["127.0.0.1", "127.1", "2130706433", "0x7f.1", "0177.0.0.1", "localhost"]


@pytest.fixture
def site() -> Iterator[LinkSite]:
    with LinkSite() as site:
        yield site


def _refused(url: str, rules: FetchRules) -> FetchFailed:
    with pytest.raises(FetchFailed) as failed:
        fetch(url, rules)
    assert failed.value.kind == "refused", failed.value.reason
    return failed.value


@pytest.mark.parametrize("host", LITERAL_HOSTS)
def test_every_spelling_of_an_inside_address_is_refused_unrequested(
    site: LinkSite, host: str
) -> None:
    _refused(site.url("/article", host=host), FetchRules())

    assert site.requests == []


@pytest.mark.parametrize("name", sorted(INSIDE_NAMES))
def test_names_resolving_inside_are_refused_unrequested(site: LinkSite, name: str) -> None:
    failed = _refused(site.url("/article", host=name), FetchRules(hosts=INSIDE_NAMES))

    assert name in failed.reason and "resolves to" in failed.reason
    assert site.requests == []


@pytest.mark.parametrize("host", REACHABLE_HOSTS)
def test_allow_private_reaches_the_same_site(site: LinkSite, host: str) -> None:
    fetched = fetch(site.url("/article", host=host), FetchRules(allow_private=True))

    assert fetched.status_code == 200
    assert [seen.path for seen in site.requests] == ["/article"]


def test_allow_private_reaches_names_resolving_inside(site: LinkSite) -> None:
    rules = FetchRules(allow_private=True, hosts={"inside.test": ("127.0.0.1",)})

    assert fetch(site.url("/article", host="inside.test"), rules).status_code == 200
    assert site.requests[0].headers["Host"] == f"inside.test:{site.port}"


@pytest.fixture
def site_passes_once(monkeypatch: pytest.MonkeyPatch, site: LinkSite) -> None:
    """The local site's address counts as public for the fetch's first connection only.

    A redirect into the inside needs a first hop the rule lets through, and the only site the
    tests have is inside; so the rule is relaxed for that one connection (the hop) and is the
    real rule for everything after it: the redirect's target is judged as in production."""
    passed: list[addresses.IPAddress] = []

    def refusal_after_first(address: addresses.IPAddress) -> str | None:
        if not passed and address == IPv4Address("127.0.0.1"):
            passed.append(address)
            return None
        return addresses.refusal(address)

    monkeypatch.setattr(fetch_module, "refusal", refusal_after_first)


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1:{port}/article",
        "http://2130706433:{port}/article",
        "http://[::ffff:127.0.0.1]:{port}/article",
        "http://169.254.169.254/latest/meta-data/",
        "http://inside.test:{port}/article",
        "http://metadata.test/latest/meta-data/",
        "http://mixed.test:{port}/article",
        "http://localhost:{port}/article",
    ],
)
@pytest.mark.usefixtures("site_passes_once")
def test_a_redirect_into_the_inside_is_refused_before_its_request(
    site: LinkSite, target: str
) -> None:
    hop = site.url(f"/redirect-to?url={target.format(port=site.port)}", host="public.test")
    rules = FetchRules(hosts={"public.test": ("127.0.0.1",), **INSIDE_NAMES})

    _refused(hop, rules)

    assert [seen.path.split("?")[0] for seen in site.requests] == ["/redirect-to"]


@pytest.mark.usefixtures("site_passes_once")
def test_the_first_hop_is_really_let_through_once(site: LinkSite) -> None:
    """The fixture's relaxation reaches one request and no more: a second fetch is refused."""
    rules = FetchRules(hosts={"public.test": ("127.0.0.1",)})

    assert fetch(site.url("/plain.txt", host="public.test"), rules).status_code == 200
    _refused(site.url("/plain.txt", host="public.test"), rules)
    assert len(site.requests) == 1


def _self_signed(tmp_path: Path, name: str) -> ssl.SSLContext:
    """A server context with a self-signed certificate for `name` (no CA the fetcher trusts)."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    return context


def test_tls_runs_on_the_host_name_while_the_checked_address_is_dialled(tmp_path: Path) -> None:
    """The fetcher dials 127.0.0.1 (the checked answer for secure.test), sends secure.test as
    the TLS server name, and still verifies the certificate: a self-signed one fails."""
    context = _self_signed(tmp_path, "secure.test")
    names: list[str | None] = []

    def record_name(_socket: ssl.SSLObject, name: str | None, _context: ssl.SSLContext) -> None:
        names.append(name)

    context.sni_callback = record_name
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def answer_once() -> None:
            connection, _ = listener.accept()
            with connection, contextlib.suppress(ssl.SSLError, OSError):
                context.wrap_socket(connection, server_side=True).close()

        server = threading.Thread(target=answer_once, daemon=True)
        server.start()
        rules = FetchRules(allow_private=True, hosts={"secure.test": ("127.0.0.1",)})
        with pytest.raises(FetchFailed) as failed:
            fetch(f"https://secure.test:{port}/", rules)
        server.join(5)

    assert names == ["secure.test"]
    assert failed.value.kind == "client" and "CERTIFICATE_VERIFY_FAILED" in failed.value.reason
