"""A link's URL, checked and brought to one spelling (pure).

`normalize_url` is what the API stores and deduplicates by, and what the fetcher asks for: two
spellings of one page (`HTTP://Example.COM:80/a/../b#top`, `http://example.com/b`) become the
same string. It refuses what cannot be fetched (`InvalidUrl`) and, before any DNS lookup, a host
that spells a refused address in any form (`UrlRefused`); names are checked again by the
fetcher once they resolve, at connect time.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import unquote, urljoin, urlsplit

import idna

from scopix.server.domain.addresses import IPAddress, literal_address, refusal
from scopix.server.domain.errors import InvalidUrl, UrlRefused

__all__ = ["MAX_URL_CHARS", "normalize_url", "redirect_target", "url_domain"]

MAX_URL_CHARS: Final = 2048
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_MAX_HOST_CHARS: Final = 253
_UNRESERVED: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
#: Characters kept as they are (RFC 3986 pchar, plus "/" and "?" where they belong).
_PATH_SAFE: Final = _UNRESERVED | frozenset("!$&'()*+,;=:@/")
_QUERY_SAFE: Final = _PATH_SAFE | frozenset("?")
_ESCAPE: Final = re.compile(r"%([0-9A-Fa-f]{2})")
_LABEL: Final = re.compile(r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?")
_NUMERIC_LABEL: Final = re.compile(r"[0-9]+|0[xX][0-9A-Fa-f]*")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")


def normalize_url(raw: str, *, allow_private: bool) -> str:
    """`raw` as the one URL it means: http(s) only, a host, no userinfo, IDNA host lowercased,
    default port dropped, fragment dropped, empty path "/", dot segments removed, percent-escapes
    normalized. Raises UrlRefused for a literal refused address (unless `allow_private`),
    InvalidUrl for anything else wrong."""
    text = raw.strip()
    if len(text) > MAX_URL_CHARS:
        raise InvalidUrl(f"the URL is longer than {MAX_URL_CHARS} characters")
    if _CONTROL.search(text):
        raise InvalidUrl("the URL contains control characters")
    try:
        parts = urlsplit(text)
    except ValueError as exc:
        raise InvalidUrl(f"the URL cannot be read: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        shown = f"{scheme}:" if scheme else "a URL without a scheme"
        raise InvalidUrl(f"only http and https links are fetched, not {shown}")
    host, port = _host_and_port(parts.netloc, scheme, allow_private=allow_private)
    path = _remove_dot_segments(_escaped(parts.path, _PATH_SAFE)) or "/"
    query = _escaped(parts.query, _QUERY_SAFE)
    url = f"{scheme}://{host}{port}{path}" + (f"?{query}" if query else "")
    if len(url) > MAX_URL_CHARS:
        raise InvalidUrl(f"the URL is longer than {MAX_URL_CHARS} characters once normalized")
    return url


def redirect_target(url: str, location: str, *, allow_private: bool) -> str:
    """Where a redirect from `url` with this `Location` leads, normalized and checked as a new
    URL is (a redirect may not lead to another scheme or a refused address either)."""
    return normalize_url(urljoin(url, location.strip()), allow_private=allow_private)


def url_domain(url: str) -> str:
    """The host of a normalized URL ("www.example.com"; an IPv6 address without brackets)."""
    return urlsplit(url).hostname or ""


def _host_and_port(netloc: str, scheme: str, *, allow_private: bool) -> tuple[str, str]:
    """The normalized host and the ":port" suffix ("" for the scheme's default port)."""
    if "@" in netloc:
        raise InvalidUrl("the URL carries a user name or password, which links may not")
    if netloc.startswith("["):
        end = netloc.find("]")
        if end < 0:
            raise InvalidUrl("the URL's IPv6 address has no closing bracket")
        raw_host, rest = netloc[: end + 1], netloc[end + 1 :]
        if rest and not rest.startswith(":"):
            raise InvalidUrl("the URL's host is followed by something other than a port")
        raw_port = rest[1:]
    else:
        raw_host, _, raw_port = netloc.partition(":")
    host = _host(raw_host, allow_private=allow_private)
    return host, _port(raw_port, scheme)


def _host(raw: str, *, allow_private: bool) -> str:
    if not raw:
        raise InvalidUrl("the URL has no host")
    if raw.startswith("["):
        address = literal_address(raw)
        if address is None or address.version != 6 or "%" in raw:
            raise InvalidUrl("the URL's IPv6 address cannot be read")
        _check_address(address, allow_private=allow_private)
        return f"[{address.compressed}]"
    try:
        name = _ascii_name(unquote(raw, errors="strict"))
    except UnicodeDecodeError:
        raise InvalidUrl("the URL's host is not UTF-8 once unescaped") from None
    labels = name.split(".")
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        address = literal_address(name)
        if address is None:
            raise InvalidUrl("the URL's host looks like an IPv4 address but is not one")
        _check_address(address, allow_private=allow_private)
        return str(address)
    if len(name) > _MAX_HOST_CHARS or not all(_LABEL.fullmatch(label) for label in labels):
        raise InvalidUrl("the URL's host is not a valid name")
    if labels[-1] == "localhost" and not allow_private:
        raise UrlRefused(f"the URL's host {name} is loopback", reason="loopback")
    return name


def _ascii_name(name: str) -> str:
    """The host lowercased and in ASCII (IDNA, UTS 46 mapping), without a final dot."""
    try:
        ascii_name = name if name.isascii() else idna.encode(name, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError) as exc:
        raise InvalidUrl(f"the URL's host is not a valid name: {exc}") from None
    return ascii_name.lower().removesuffix(".")


def _check_address(address: IPAddress, *, allow_private: bool) -> None:
    reason = refusal(address)
    if reason is not None and not allow_private:
        raise UrlRefused(f"the URL's address {address} is {reason}", reason=reason)


def _port(raw: str, scheme: str) -> str:
    if raw == "":
        return ""
    if not raw.isascii() or not raw.isdigit() or not 0 < int(raw) < 65536:
        raise InvalidUrl("the URL's port is not a number from 1 to 65535")
    port = int(raw)
    return "" if port == _DEFAULT_PORTS[scheme] else f":{port}"


def _escaped(part: str, safe: frozenset[str]) -> str:
    """`part` with every escape upper-case, escapes of unreserved characters decoded, and
    every character outside `safe` escaped (UTF-8); a lone "%" becomes "%25"."""
    out: list[str] = []
    index = 0
    while index < len(part):
        char = part[index]
        escape = _ESCAPE.match(part, index) if char == "%" else None
        if escape is not None:
            decoded = chr(int(escape.group(1), 16))
            out.append(decoded if decoded in _UNRESERVED else escape.group(0).upper())
            index += 3
            continue
        out.append(char if char in safe else "".join(f"%{b:02X}" for b in char.encode()))
        index += 1
    return "".join(out)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4: `/a/./b/../c` is `/a/c`."""
    output: list[str] = []
    segments = path.split("/")
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == ".":
            if last:
                output.append("")
        elif segment == "..":
            if len(output) > 1:
                output.pop()
            if last:
                output.append("")
        else:
            output.append(segment)
    return "/".join(output)
