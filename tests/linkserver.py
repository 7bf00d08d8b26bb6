"""A real threaded web site on 127.0.0.1 for the link tests: pages, images, redirects and traps.

    with LinkSite() as site:
        site.url("/article")                      # http://127.0.0.1:<port>/article
        site.url("/article", host="news.test")    # the same port under a name (map it in hosts)
        site.requests                             # every request that reached the site

Routes (GET; anything else is 404):

- `/article`: a news article with a nav bar, a cookie banner, a header logo and a footer around
  the article; `<title>`, Open Graph title/description/image (absolute, `/og.png`)/site_name/
  type, a favicon link (`/favicon.ico`) and three article images (`/img/1.jpg` ... `/img/3.jpg`,
  relative). `?encoding=gzip|deflate|br` sends it compressed with that Content-Encoding
  (`deflate` is zlib-wrapped, `raw-deflate` a bare deflate stream sent as `deflate`).
- `/no-image-article`: an article with neither og:image nor any image.
- `/og.png` (a flat `OG_COLOUR` PNG, 1200x630), `/img/<n>.jpg` (JPEGs, 800x600, one seed
  each), `/logo.png`, `/favicon.ico` (a 32x32 PNG), `/photo.jpg` (a 640x480 JPEG),
  `/doc.pdf` (a two-page PDF with a text layer), `/plain.txt` (UTF-8 text/plain).
- `/latin1`: an HTML page in ISO-8859-1 (declared in Content-Type); `/shift_jis`: one in
  Shift_JIS (declared in Content-Type); `/meta-charset`: Shift_JIS declared only in a
  `<meta charset>`; `/untyped`: an HTML page sent without a Content-Type.
- `/redirect/<n>`: a chain of n 302s ending at `/article` (`/redirect/3` -> `/redirect/2` ->
  `/redirect/1` -> `/article`); `/redirect-to?url=<absolute or relative URL>&status=<3xx>`
  (302 by default) redirects anywhere.
- `/gzip-bomb`, `/deflate-bomb`, `/brotli-bomb`: 1 GiB of zeros inflated from about 1 MB, 1 MB
  and 190 KB on the wire, sent as text/html with that Content-Encoding.
- `/slow-drip`: headers at once (Content-Length 1 MB), then one byte every 0.1 s for as long as
  the client stays. `/slow-headers`: nothing at all until the client leaves.
- `/huge`: 50 MB of HTML-ish text with its Content-Length; `/huge?chunked=1` without one.
- `/404`, `/500`, `/status/<code>`: that status with a short HTML body.
"""

from __future__ import annotations

import functools
import struct
import sys
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

import brotli
import pyvips

from docfactory import text_pdf
from imagefactory import jpeg_bytes, png_bytes

MIB = 1 << 20
BOMB_BYTES = 1 << 30
HUGE_BYTES = 50 * MIB
DRIP_INTERVAL = 0.1
DRIP_LENGTH = MIB

ARTICLE_TITLE = "Otters return to the Elbe after fifty years"
SITE_NAME = "Riverside Journal"
OG_TITLE = "The otters are back"
OG_DESCRIPTION = "Biologists counted forty-two river otters along the Elbe this spring."
OG_TYPE = "article"
#: The og:image's flat colour (sRGB): a thumbnail made from it is this colour.
OG_COLOUR = (32, 160, 96)
ARTICLE_IMAGES = ("/img/1.jpg", "/img/2.jpg", "/img/3.jpg")
FAVICON = "/favicon.ico"
ARTICLE_PARAGRAPHS = (
    "For the first time in half a century, river otters are raising their young on the banks "
    "of the Elbe. Biologists from the wetland survey counted forty-two animals this spring, "
    "most of them between the old harbour and the willow islands.",
    "The comeback began when the last paper mill closed and the water cleared. Fish returned "
    "first: roach, perch and then eels, which the otters hunt at dusk among the reeds.",
    "Volunteers now check the riverbank every Sunday morning for tracks and spraints. They "
    "report each find to the survey, which maps the otters' territories across the floodplain.",
    "Not everyone is pleased. Anglers at the fish ponds near Lauenburg say the otters take "
    "their carp, and the county is paying for electric fences around the most visited ponds.",
)
#: Words only the page's chrome carries: none of them belongs in the main text.
NAV_TEXT = "Homepage Weather Crossword Horoscopes"
COOKIE_TEXT = "We use cookies to improve your experience. Accept all cookies"
FOOTER_TEXT = "Imprint Privacy policy Careers at the Riverside Journal"
NO_IMAGE_TITLE = "Minutes of the allotment society"
NO_IMAGE_PARAGRAPHS = (
    "The allotment society met on Tuesday evening in the community hall to discuss the water "
    "rates, the new compost bins and the annual pumpkin competition.",
    "Members agreed to share two rainwater tanks between the eastern plots, and the treasurer "
    "reported that the seed swap had raised enough for a second wheelbarrow.",
)
LATIN1_TEXT = "Le café de la rue Saint-André ouvre à sept heures. Die Größe überrascht Jürgen."
SHIFT_JIS_TEXT = "エルベ川にカワウソが五十年ぶりに戻ってきました。"
PLAIN_TEXT = (
    "Otter survey notes\n\nForty-two otters were counted between the harbour and the islands.\n"
)
PDF_LINES = (("Otter census 2026", "Forty-two otters counted"), ("Territories", "Willow islands"))


@dataclass(frozen=True)
class Seen:
    """One request as the site received it."""

    method: str
    path: str
    headers: dict[str, str]


#: A route's answer: status, headers, and the body as chunks (a generator may stream slowly).
Answer = tuple[int, dict[str, str], Iterator[bytes]]


class LinkSite:
    """The site; `requests` lists every request it received, in order."""

    def __init__(self) -> None:
        self.requests: list[Seen] = []
        self._stopping = threading.Event()
        self._httpd = _QuietServer(("127.0.0.1", 0), self._handler())
        serve = functools.partial(self._httpd.serve_forever, poll_interval=0.05)  # quick to stop
        self._thread = threading.Thread(target=serve, daemon=True)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def url(self, path: str, *, host: str = "127.0.0.1", scheme: str = "http") -> str:
        return f"{scheme}://{host}:{self.port}{path}"

    def __enter__(self) -> LinkSite:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: object) -> None:
                return

            def do_GET(self) -> None:
                site.requests.append(Seen(self.command, self.path, dict(self.headers)))
                status, headers, chunks = site._answer(self.path, self.headers.get("host", ""))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                chunked = "Content-Length" not in headers
                if chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    for chunk in chunks:
                        if chunked:
                            chunk = b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunk else b""
                        self.wfile.write(chunk)
                        self.wfile.flush()
                    if chunked:
                        self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            def do_POST(self) -> None:
                site.requests.append(Seen(self.command, self.path, dict(self.headers)))
                self.send_error(405)

        return Handler

    def _answer(self, target: str, host: str) -> Answer:
        parts = urlsplit(target)
        query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
        base = f"http://{host}"
        path = parts.path
        if path == "/article":
            return _encoded(_article_html(base), query.get("encoding"))
        if path.startswith("/redirect/") and path[len("/redirect/") :].isdigit():
            hops = int(path[len("/redirect/") :])
            return _redirect("/article" if hops <= 1 else f"/redirect/{hops - 1}", 302)
        if path == "/redirect-to":
            return _redirect(query.get("url", "/article"), int(query.get("status", "302")))
        if path.startswith("/status/") and path[len("/status/") :].isdigit():
            return _status(int(path[len("/status/") :]))
        if path == "/slow-drip":
            return (
                200,
                {"Content-Type": "text/html", "Content-Length": str(DRIP_LENGTH)},
                self._drip(),
            )
        if path == "/slow-headers":
            self._stopping.wait(600)
            return _status(503)
        if path == "/huge":
            return _huge(chunked=query.get("chunked") == "1")
        route = _ROUTES.get(path)
        return route() if route else _status(404)

    def _drip(self) -> Iterator[bytes]:
        for _ in range(DRIP_LENGTH):
            if self._stopping.wait(DRIP_INTERVAL):
                return
            yield b"x"


class _QuietServer(ThreadingHTTPServer):
    """A client that hangs up (a fetch past its cap or deadline, a TLS hello) is no error."""

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


def _page(status: int, content_type: str | None, body: bytes, **headers: str) -> Answer:
    sent = {"Content-Length": str(len(body)), **headers}
    if content_type is not None:
        sent["Content-Type"] = content_type
    return status, sent, iter((body,))


def _status(status: int) -> Answer:
    return _page(status, "text/html", f"<html><body><h1>{status}</h1></body></html>".encode())


def _redirect(location: str, status: int) -> Answer:
    return _page(status, "text/html", b"moved", Location=location)


def _article_html(base: str) -> bytes:
    paragraphs = "".join(f"<p>{text}</p>" for text in ARTICLE_PARAGRAPHS[:2])
    figures = "".join(
        f'<figure><img src="{src.lstrip("/")}" alt="Otter {index}" width="800" height="600">'
        f"<figcaption>An otter on the Elbe, picture {index}</figcaption></figure>"
        for index, src in enumerate(ARTICLE_IMAGES, start=1)
    )
    rest = "".join(f"<p>{text}</p>" for text in ARTICLE_PARAGRAPHS[2:])
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{ARTICLE_TITLE} | {SITE_NAME}</title>
<meta property="og:title" content="{OG_TITLE}">
<meta property="og:description" content="{OG_DESCRIPTION}">
<meta property="og:image" content="{base}/og.png">
<meta property="og:site_name" content="{SITE_NAME}">
<meta property="og:type" content="{OG_TYPE}">
<link rel="icon" href="{FAVICON}" type="image/png">
</head><body>
<div id="cookie-banner" class="cookie-consent"><p>{COOKIE_TEXT}</p><button>Accept</button></div>
<header><img src="/logo.png" alt="{SITE_NAME}"><nav><ul>
{"".join(f'<li><a href="/{word.lower()}">{word}</a></li>' for word in NAV_TEXT.split())}
</ul></nav></header>
<main><article><h1>{ARTICLE_TITLE}</h1><p class="byline">By Anna Weber, 3 May 2026</p>
{paragraphs}{figures}{rest}</article></main>
<footer><p>{FOOTER_TEXT}</p><p>Copyright 2026 {SITE_NAME}</p></footer>
</body></html>""".encode()


def _no_image_article() -> Answer:
    paragraphs = "".join(f"<p>{text}</p>" for text in NO_IMAGE_PARAGRAPHS)
    html = (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{NO_IMAGE_TITLE}</title>'
        f"</head><body><nav><a href='/'>{NAV_TEXT}</a></nav><article><h1>{NO_IMAGE_TITLE}</h1>"
        f"{paragraphs}</article><footer>{FOOTER_TEXT}</footer></body></html>"
    )
    return _page(200, "text/html; charset=utf-8", html.encode())


def _encoded(html: bytes, encoding: str | None) -> Answer:
    content_type = "text/html; charset=utf-8"
    if encoding is None:
        return _page(200, content_type, html)
    compressed: bytes = (
        brotli.compress(html)
        if encoding == "br"
        else zlib.compress(html, wbits={"gzip": 31, "deflate": 15, "raw-deflate": -15}[encoding])
    )
    sent_as = "deflate" if encoding == "raw-deflate" else encoding
    return _page(200, content_type, compressed, **{"Content-Encoding": sent_as})


def _charset_page(text: str, codec: str, content_type: str | None, meta: str = "") -> Answer:
    html = f"<html><head>{meta}<title>{text[:12]}</title></head><body><p>{text}</p></body></html>"
    return _page(200, content_type, html.encode(codec))


@functools.cache
def _zeros(wbits: int) -> bytes:
    """BOMB_BYTES zeros deflated (gzip for wbits 31, zlib for 15) a MiB at a time after a full
    flush, so every MiB after the first deflates the same and is repeated, not recomputed."""
    raw = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    step = bytes(MIB)
    first = raw.compress(step) + raw.flush(zlib.Z_FULL_FLUSH)
    repeated = raw.compress(step) + raw.flush(zlib.Z_FULL_FLUSH)
    body = first + repeated * (BOMB_BYTES // MIB - 1) + raw.flush()
    if wbits == 31:
        crc = 0
        for _ in range(BOMB_BYTES // MIB):
            crc = zlib.crc32(step, crc)
        header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
        return header + body + struct.pack("<II", crc, BOMB_BYTES & 0xFFFFFFFF)
    adler = 1
    for _ in range(BOMB_BYTES // MIB):
        adler = zlib.adler32(step, adler)
    return b"\x78\xda" + body + struct.pack(">I", adler)


@functools.cache
def _brotli_zeros() -> bytes:
    compressor = brotli.Compressor(quality=1, lgwin=24)
    step = bytes(MIB)
    pieces: list[bytes] = [compressor.process(step) for _ in range(BOMB_BYTES // MIB)]
    pieces.append(compressor.finish())
    return b"".join(pieces)


def _bomb(encoding: str, body: Callable[[], bytes]) -> Callable[[], Answer]:
    return lambda: _page(200, "text/html", body(), **{"Content-Encoding": encoding})


def _huge(*, chunked: bool) -> Answer:
    line = b"<p>" + b"all work and no play makes a very long page " * 20 + b"</p>\n"
    block = line * (MIB // len(line))
    total = HUGE_BYTES // len(block) * len(block)
    headers = {"Content-Type": "text/html"}
    if not chunked:
        headers["Content-Length"] = str(total)
    return 200, headers, iter([block] * (total // len(block)))


@functools.cache
def _flat_png(width: int, height: int, colour: tuple[int, int, int]) -> bytes:
    image = (pyvips.Image.black(width, height, bands=3) + list(colour)).cast("uchar")
    return bytes(image.copy(interpretation="srgb").pngsave_buffer())


_ROUTES: dict[str, Callable[[], Answer]] = {
    "/no-image-article": _no_image_article,
    "/og.png": lambda: _page(200, "image/png", _flat_png(1200, 630, OG_COLOUR)),
    "/logo.png": lambda: _page(200, "image/png", png_bytes(120, 40)),
    FAVICON: lambda: _page(200, "image/png", _flat_png(32, 32, (200, 40, 40))),
    "/photo.jpg": lambda: _page(200, "image/jpeg", jpeg_bytes(640, 480, seed=7)),
    **{
        src: functools.partial(
            lambda seed: _page(200, "image/jpeg", jpeg_bytes(800, 600, seed=seed)), index
        )
        for index, src in enumerate(ARTICLE_IMAGES, start=1)
    },
    "/doc.pdf": lambda: _page(200, "application/pdf", text_pdf(PDF_LINES, title="Otter census")),
    "/plain.txt": lambda: _page(200, "text/plain; charset=utf-8", PLAIN_TEXT.encode()),
    "/latin1": lambda: _charset_page(LATIN1_TEXT, "latin-1", "text/html; charset=ISO-8859-1"),
    "/shift_jis": lambda: _charset_page(
        SHIFT_JIS_TEXT, "shift_jis", "text/html; charset=Shift_JIS"
    ),
    "/meta-charset": lambda: _charset_page(
        SHIFT_JIS_TEXT, "shift_jis", "text/html", '<meta charset="shift_jis">'
    ),
    "/untyped": lambda: _charset_page("An HTML page sent without a type.", "utf-8", None),
    "/gzip-bomb": _bomb("gzip", lambda: _zeros(31)),
    "/deflate-bomb": _bomb("deflate", lambda: _zeros(15)),
    "/brotli-bomb": _bomb("br", _brotli_zeros),
    "/404": lambda: _status(404),
    "/500": lambda: _status(500),
}
