"""A fetched web page read: its main text (trafilatura), title, Open Graph, favicon and the
article's images (selectolax). Runs in the isolated child: lxml and lexbor parse untrusted bytes.

The main text is what trafilatura keeps of the page without comments, menus, banners or
footers; the images are the ones inside that kept region, in reading order. Every URL that comes
out is absolute and http(s): a page cannot hand the crawler a `file:` or `data:` address.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urljoin, urlsplit

import charset_normalizer
from selectolax.lexbor import LexborHTMLParser, LexborNode

__all__ = [
    "MAX_DEPTH",
    "MAX_IMAGES",
    "MAX_TEXT_CHARS",
    "OpenGraph",
    "PageRead",
    "preview_image_url",
    "read_page",
]

#: A page's main text is cut to this many characters (a book-length page is still searchable).
MAX_TEXT_CHARS: Final = 500_000
#: At most this many of the article's images are kept.
MAX_IMAGES: Final = 50
#: Titles, Open Graph values and URLs longer than this are cut or dropped.
MAX_FIELD_CHARS: Final = 2048
#: Where a `<meta charset>` must be found (HTML puts it within the first 1024 bytes).
_META_CHARSET_BYTES: Final = 4096
#: What charset-normalizer looks at to guess the encoding of an undeclared page.
_GUESS_BYTES: Final = 64 * 1024
_META_CHARSET: Final = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_:.-]+)""", re.I)
#: Elements nested deeper than this are not parsed for the page's fields (see _shallow_prefix).
MAX_DEPTH: Final = 512
_TAG: Final = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)[^<>]*?(/?)>")
_NOT_NESTING: Final = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param"}
    | {"source", "track", "wbr", "p", "li", "dt", "dd", "option", "tr", "td", "th"}
)
#: A main text shorter than this is looked for again with trafilatura's fallback extractors.
_FALLBACK_BELOW_CHARS: Final = 250
_ICON_RELS: Final = (("icon", "shortcut"), ("apple-touch-icon", "apple-touch-icon-precomposed"))


@dataclass(frozen=True)
class OpenGraph:
    """The page's Open Graph card (Twitter card values where it has no Open Graph one)."""

    title: str | None = None
    description: str | None = None
    image: str | None = None
    site_name: str | None = None
    type: str | None = None

    def as_record(self) -> dict[str, str | None]:
        return {
            "title": self.title,
            "description": self.description,
            "image": self.image,
            "site_name": self.site_name,
            "type": self.type,
        }


@dataclass(frozen=True)
class PageRead:
    """What a page says: `images` are the article's, absolute, in order, each once; `lead` is
    its Open Graph (or meta) description, else the main text's first paragraph."""

    title: str | None
    text: str
    og: OpenGraph
    favicon_url: str | None
    images: tuple[str, ...]
    lead: str | None


def read_page(body: bytes, base_url: str, charset: str | None) -> PageRead:
    """Read `body`, fetched from `base_url` and declared in `charset` (None when the response
    named none). Never raises on odd bytes: a page that is not HTML reads as an empty page."""
    html = decode_page(body, charset)
    tree = LexborHTMLParser(html[: _shallow_prefix(html)])
    base = _base_url(tree, base_url)
    og = _open_graph(tree, base)
    text, kept_images = _main_text(html, base)
    images = _article_images(tree, base, kept_images)
    paragraph = next((line.strip() for line in text.splitlines() if len(line.strip()) > 40), None)
    lead = og.description or _meta(tree, "name", "description") or paragraph
    return PageRead(
        title=_title(tree) or og.title,
        text=text,
        og=og,
        favicon_url=_favicon(tree, base),
        images=images,
        lead=_cut(lead),
    )


def preview_image_url(body: bytes, base_url: str, charset: str | None) -> str | None:
    """The picture that stands for the page: its og:image, else its article's first image."""
    page = read_page(body, base_url, charset)
    return page.og.image or next(iter(page.images), None)


def decode_page(body: bytes, charset: str | None) -> str:
    """The page as text: in its declared charset, else its `<meta charset>`, else UTF-8, else
    charset-normalizer's guess; a declared charset the bytes break decodes with replacements
    when nothing else fits."""
    meta = _META_CHARSET.search(body[:_META_CHARSET_BYTES])
    declared = [name for name in (charset, meta and meta.group(1).decode("ascii")) if name]
    for name in [*declared, "utf-8"]:
        codec = _codec(name)
        if codec is not None:
            try:
                return body.decode(codec)
            except UnicodeDecodeError:
                continue
    usable = [codec for codec in map(_codec, declared) if codec is not None]
    if usable:
        return body.decode(usable[0], errors="replace")
    guess = charset_normalizer.from_bytes(body[:_GUESS_BYTES]).best()
    codec = _codec(guess.encoding) if guess is not None else None
    return body.decode(codec or "utf-8", errors="replace")


def _shallow_prefix(html: str) -> int:
    """How much of `html` lexbor parses: all of it, or up to the tag that opens element number
    MAX_DEPTH on the stack. lexbor's tree building scans the open elements at each block tag, so
    100,000 nested divs (1 MB) take 18 s; lxml, which trafilatura reads the page with, stops
    at a depth of 256 itself. Elements that close themselves (void ones, an unclosed `<p>` or
    `<li>` the next one ends) are not counted."""
    depth = 0
    for tag in _TAG.finditer(html):
        name = tag.group(2).lower()
        if name in _NOT_NESTING:
            continue
        if tag.group(1):
            depth = max(depth - 1, 0)
        elif not tag.group(3):
            depth += 1
            if depth > MAX_DEPTH:
                return tag.start()
    return len(html)


def _codec(name: str) -> str | None:
    """Python's name for a charset label, None for a label it does not know."""
    try:
        return codecs.lookup(name.strip().lower()).name
    except (LookupError, ValueError):
        return None


def _main_text(html: str, base: str) -> tuple[str, list[str]]:
    """trafilatura's main text (no comments) and the images it kept in that text, in order.
    Its own extractor first; a page where that finds less than a short article is read again
    with its fallbacks (readability, jusText) too, which take a third longer on every page."""
    text, images = _extraction(html, base, fast=True)
    if len(text) < _FALLBACK_BELOW_CHARS:
        text, images = _extraction(html, base, fast=False)
    return text, images


def _extraction(html: str, base: str, *, fast: bool) -> tuple[str, list[str]]:
    # Imported here, in the isolated child that reads pages: trafilatura and what it loads
    # (lxml, dateparser, jusText) weigh 28 MB that the API process, which only passes this
    # module's functions to the child by name, would otherwise carry for nothing.
    import trafilatura
    from trafilatura.xml import xmltotxt

    try:
        document = trafilatura.bare_extraction(
            html,
            url=base,
            fast=fast,
            include_comments=False,
            include_images=True,
            favor_precision=True,
        )
    except Exception:  # lxml's parser errors are not one class; any page reads, as empty
        return "", []
    body = getattr(document, "body", None)
    if body is None:
        return "", []
    sources = [str(g.get("src") or "") for g in body.iter("graphic")]
    _drop_graphics(body)
    text = "\n".join(line.rstrip() for line in xmltotxt(body, False).splitlines())
    return text.strip()[:MAX_TEXT_CHARS], sources


def _drop_graphics(body: Any) -> None:
    """Remove trafilatura's image elements from its tree, keeping the text that follows each."""
    for graphic in list(body.iter("graphic")):
        parent = graphic.getparent()
        if parent is None:
            continue
        previous = graphic.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + (graphic.tail or "")
        else:
            parent.text = (parent.text or "") + (graphic.tail or "")
        parent.remove(graphic)


def _article_images(tree: LexborHTMLParser, base: str, kept: list[str]) -> tuple[str, ...]:
    """The article's images: those trafilatura kept, else those inside `<article>` or
    `<main>`; never a 1x1 tracking pixel, a `data:` URL or any non-http(s) address."""
    pixels = {
        url
        for node in tree.css("img")
        if _is_pixel(node) and (url := _absolute(base, _img_source(node)))
    }
    sources = kept
    if not sources:
        region = tree.css_first("article") or tree.css_first("main")
        sources = [] if region is None else [_img_source(n) or "" for n in region.css("img")]
    found: list[str] = []
    for source in sources:
        url = _absolute(base, source)
        if url and url not in pixels and url not in found:
            found.append(url)
            if len(found) == MAX_IMAGES:
                break
    return tuple(found)


def _img_source(node: LexborNode) -> str | None:
    attributes = node.attributes
    return attributes.get("src") or attributes.get("data-src")


def _is_pixel(node: LexborNode) -> bool:
    attributes = node.attributes
    return attributes.get("width") in ("0", "1") or attributes.get("height") in ("0", "1")


def _base_url(tree: LexborHTMLParser, page_url: str) -> str:
    """Where the page's relative URLs start: its `<base href>` when that is http(s)."""
    node = tree.css_first("base[href]")
    base = _absolute(page_url, node.attributes.get("href") if node else None)
    return base or page_url


def _open_graph(tree: LexborHTMLParser, base: str) -> OpenGraph:
    def value(name: str) -> str | None:
        return _cut(_meta(tree, "property", f"og:{name}") or _meta(tree, "name", f"og:{name}"))

    def twitter(name: str) -> str | None:
        return _cut(_meta(tree, "name", f"twitter:{name}"))

    image = value("image") or twitter("image")
    return OpenGraph(
        title=value("title") or twitter("title"),
        description=value("description") or twitter("description"),
        image=_absolute(base, image),
        site_name=value("site_name"),
        type=value("type"),
    )


def _meta(tree: LexborHTMLParser, attribute: str, name: str) -> str | None:
    """The content of the first `<meta attribute=name>` (name compared case-blind)."""
    for node in tree.css(f"meta[{attribute}]"):
        if (node.attributes.get(attribute) or "").strip().lower() == name:
            content = " ".join((node.attributes.get("content") or "").split())
            if content:
                return content
    return None


def _title(tree: LexborHTMLParser) -> str | None:
    node = tree.css_first("title")
    return _cut(" ".join(node.text().split())) if node is not None else None


def _favicon(tree: LexborHTMLParser, base: str) -> str | None:
    """The page's icon link (rel icon or shortcut icon, then apple-touch-icon), else its
    origin's /favicon.ico."""
    for rels in _ICON_RELS:
        for node in tree.css("link[rel][href]"):
            tokens = (node.attributes.get("rel") or "").lower().split()
            if any(rel in tokens for rel in rels):
                url = _absolute(base, node.attributes.get("href"))
                if url:
                    return url
    return _absolute(base, "/favicon.ico")


def _absolute(base: str, href: str | None) -> str | None:
    """`href` resolved against `base` when the result is an http(s) URL with a host."""
    if not href or len(href) > MAX_FIELD_CHARS:
        return None
    try:
        url = urljoin(base, href.strip())
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return url


def _cut(value: str | None) -> str | None:
    return value[:MAX_FIELD_CHARS] if value else None
