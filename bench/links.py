"""Link reading speed: pages/s of Scopix's whole read of a page (the fetcher, over HTTP from a
local server, then `read_page`: main text, title, Open Graph, favicon and article images)
against trafilatura's main text alone on the same pages, already in memory, in the same run.

The pages are generated articles of varied length and make-up (a cookie banner, navigation,
a sidebar, a footer, 0-12 images, Open Graph or not; UTF-8, Latin-1 and Windows-1251), served
by a threaded HTTP server on 127.0.0.1 in this process. `read_page` alone on the bodies is timed
too, so that the fetch's share shows. Everything runs in this process (no isolated children):
the crawl job adds one child hop per call on top. Rounds alternate the three so that drift of
the machine hits all alike.

    .venv/bin/python bench/links.py [--pages 40] [--rounds 5]
"""

from __future__ import annotations

import argparse
import random
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Final

import trafilatura

from scopix.server.media.links.fetch import FetchRules, fetch
from scopix.server.media.links.read import read_page

#: The words the articles are made of.
VOCABULARY: Final = (
    "river otter survey biologist spring harbour willow island floodplain volunteer track "
    "territory fish perch roach eel dusk reed mill water county fence pond angler carp season "
    "count young bank marsh heron kingfisher council report map morning evening summer winter"
)
WORDS: Final = VOCABULARY.split()
ENCODINGS: Final = ("utf-8", "utf-8", "utf-8", "iso-8859-1", "windows-1251")


def sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(8, 24))]
    return " ".join(words).capitalize() + "."


def article(number: int, rng: random.Random) -> tuple[str, str]:
    """Page `number`: (its HTML, its encoding)."""
    encoding = ENCODINGS[number % len(ENCODINGS)]
    title = sentence(rng)[:60]
    paragraphs = [
        " ".join(sentence(rng) for _ in range(rng.randint(2, 6))) for _ in range(rng.randint(3, 40))
    ]
    if encoding == "windows-1251":
        paragraphs[0] = "Выдры вернулись на Эльбу впервые за пятьдесят лет. " + paragraphs[0]
    elif encoding == "iso-8859-1":
        paragraphs[0] = "Die Fischotter sind zurück, sagt Jürgen Weiß. " + paragraphs[0]
    body = []
    for index, paragraph in enumerate(paragraphs):
        body.append(f"<p>{paragraph}</p>")
        if index % 3 == 1 and index < 36:
            body.append(f'<figure><img src="/img/{number}-{index}.jpg" width="800"></figure>')
    og = (
        f'<meta property="og:title" content="{title}"><meta property="og:image" '
        f'content="/og/{number}.png"><meta property="og:site_name" content="Bench Journal">'
        if number % 2
        else ""
    )
    links = "".join(f'<li><a href="/{w}">{w.title()}</a></li>' for w in rng.sample(WORDS, 12))
    html = f"""<!DOCTYPE html><html><head><meta charset="{encoding}"><title>{title}</title>{og}
<link rel="icon" href="/favicon.ico"></head><body>
<div class="cookie-banner"><p>We use cookies. Accept all cookies or manage them.</p></div>
<header><nav><ul>{links}</ul></nav></header>
<aside class="sidebar"><h3>Most read</h3><ul>{links}</ul></aside>
<main><article><h1>{title}</h1>{"".join(body)}</article></main>
<footer><p>Imprint. Privacy policy. Careers.</p><ul>{links}</ul></footer></body></html>"""
    return html, encoding


@contextmanager
def site(pages: dict[str, tuple[bytes, str]]) -> Iterator[str]:
    """Serve `pages` (path -> body, charset) on 127.0.0.1; yields the site's origin."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            body, charset = pages[self.path]
            self.send_response(200)
            self.send_header("Content-Type", f"text/html; charset={charset}")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def timed(run: Callable[[], object], count: int) -> float:
    """Pages per second of `run`, which handles `count` pages."""
    start = time.perf_counter()
    run()
    return count / (time.perf_counter() - start)


def main(page_count: int, rounds: int) -> None:
    rng = random.Random(19)
    made = [article(number, rng) for number in range(page_count)]
    pages = {f"/a/{n}": (html.encode(enc), enc) for n, (html, enc) in enumerate(made)}
    rules = FetchRules(allow_private=True)
    with site(pages) as origin:
        urls = [origin + path for path in pages]

        def ours() -> None:
            for url in urls:
                fetched = fetch(url, rules)
                read_page(fetched.body, fetched.url, fetched.charset)

        def reader_alone() -> None:
            for url, (body, charset) in zip(urls, pages.values(), strict=True):
                read_page(body, url, charset)

        def trafilatura_alone() -> None:
            for url, (body, _) in zip(urls, pages.values(), strict=True):
                trafilatura.extract(body, url=url, output_format="txt", include_comments=False)

        runs = {
            "fetch + read_page": ours,
            "read_page": reader_alone,
            "trafilatura alone": trafilatura_alone,
        }
        for run in runs.values():  # warm: imports, lxml's and lexbor's first parse
            run()
        rates: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(rounds):
            for name, run in runs.items():
                rates[name].append(timed(run, len(urls)))

    sizes = [len(body) for body, _ in pages.values()]
    print(
        f"link pages/s: {len(pages)} generated articles ({min(sizes):,}-{max(sizes):,} bytes,"
        f" median {statistics.median(sizes):,.0f}), {rounds} rounds, one process"
    )
    print(f"  {'reader':<20} {'best':>7} {'median':>7}   rounds")
    for name, values in rates.items():
        shown = " ".join(f"{v:.0f}" for v in values)
        print(f"  {name:<20} {max(values):>7.0f} {statistics.median(values):>7.0f}   {shown}")
    alone = "trafilatura alone"
    for name in ("fetch + read_page", "read_page"):
        best = max(rates[name]) / max(rates[alone])
        median = statistics.median(rates[name]) / statistics.median(rates[alone])
        print(f"  {name} / {alone}: {best:.2f}x by best, {median:.2f}x by median")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    main(args.pages, args.rounds)
