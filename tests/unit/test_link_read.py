"""Reading a fetched page: the article's text without its chrome, its title, Open Graph card,
favicon and images as absolute http(s) URLs in order, in any encoding, and never an exception
whatever the bytes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from scopix.server.media.links.read import MAX_IMAGES, decode_page, preview_image_url, read_page

BASE = "https://news.example/2026/otters/story.html"
PARAGRAPHS = (
    "For the first time in half a century, river otters are raising their young on the banks "
    "of the Elbe, where biologists counted forty-two animals this spring.",
    "The comeback began when the last paper mill closed and the water cleared, and the fish "
    "returned first: roach, perch and then eels, which the otters hunt at dusk.",
    "Volunteers now check the riverbank every Sunday morning for tracks and report each find "
    "to the survey, which maps the territories across the floodplain.",
)
CHROME = ("Horoscopes", "Crossword", "cookies", "Careers", "Trending", "Imprint")


def article(*, head: str = "", images: str | None = None) -> str:
    figures = images
    if figures is None:
        figures = (
            '<figure><img src="img/1.jpg" width="800" height="600"></figure>'
            '<figure><img src="/media/2.png"></figure>'
            '<img src="https://cdn.example.org/3.webp">'
            '<img src="/pixel.gif" width="1" height="1">'
            '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">'
        )
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8">
<title>Otters return to the Elbe | Riverside Journal</title>{head}</head><body>
<div class="cookie-banner"><p>We use cookies to improve your experience.</p></div>
<header><nav><a href="/">Home</a> <a href="/h">Horoscopes</a> <a href="/c">Crossword</a></nav>
</header>
<aside class="sidebar"><h3>Trending</h3><ul><li><a href="/t">Trending: the best pastries in
town ranked by our readers</a></li></ul></aside>
<main><article><h1>Otters return to the Elbe</h1><p>{PARAGRAPHS[0]}</p>{figures}
<p>{PARAGRAPHS[1]}</p><p>{PARAGRAPHS[2]}</p></article></main>
<footer><p>Imprint. Privacy policy. Careers at the Riverside Journal.</p></footer>
</body></html>"""


OG = """<meta property="og:title" content="The otters are back">
<meta property="og:description" content="Forty-two otters along the Elbe.">
<meta property="og:image" content="/og.png"><meta property="og:site_name" content="Riverside">
<meta property="og:type" content="article"><link rel="shortcut icon" href="/static/fav.png">"""


def test_the_main_text_keeps_the_article_and_drops_its_chrome() -> None:
    page = read_page(article(head=OG).encode(), BASE, "utf-8")
    for paragraph in PARAGRAPHS:
        assert paragraph in page.text
    for word in CHROME:
        assert word not in page.text
    assert page.text.index(PARAGRAPHS[0]) < page.text.index(PARAGRAPHS[2])


def test_title_open_graph_favicon_and_images() -> None:
    page = read_page(article(head=OG).encode(), BASE, "utf-8")
    assert page.title == "Otters return to the Elbe | Riverside Journal"
    assert page.og.as_record() == {
        "title": "The otters are back",
        "description": "Forty-two otters along the Elbe.",
        "image": "https://news.example/og.png",
        "site_name": "Riverside",
        "type": "article",
    }
    assert page.favicon_url == "https://news.example/static/fav.png"
    assert page.images == (
        "https://news.example/2026/otters/img/1.jpg",
        "https://news.example/media/2.png",
        "https://cdn.example.org/3.webp",
    )
    assert page.lead == "Forty-two otters along the Elbe."
    assert preview_image_url(article(head=OG).encode(), BASE, None) == "https://news.example/og.png"


def test_a_page_without_open_graph_falls_back() -> None:
    twitter = (
        '<meta name="twitter:title" content="Otters!"><meta name="twitter:image" content="t.jpg">'
    )
    page = read_page(article(head=twitter).encode(), BASE, None)
    assert (page.og.title, page.og.image) == ("Otters!", "https://news.example/2026/otters/t.jpg")
    assert page.og.site_name is None
    assert page.favicon_url == "https://news.example/favicon.ico"
    assert page.lead == PARAGRAPHS[0]
    bare = article(images="").encode()
    assert preview_image_url(bare, BASE, None) is None
    first = article(images='<img src="only.jpg">').encode()
    assert preview_image_url(first, BASE, None) == "https://news.example/2026/otters/only.jpg"


def test_only_http_urls_come_out() -> None:
    head = (
        '<meta property="og:image" content="file:///etc/passwd">'
        '<link rel="icon" href="javascript:alert(1)">'
    )
    images = '<img src="ftp://files.example/a.jpg"><img src="data:image/png;base64,AAAA">'
    page = read_page(article(head=head, images=images).encode(), BASE, None)
    assert page.og.image is None and page.images == ()
    assert page.favicon_url == "https://news.example/favicon.ico"


def test_base_href_and_image_cap() -> None:
    head = '<base href="https://static.example/assets/">'
    images = "".join(f'<p>Picture {n} of the river.</p><img src="p{n}.jpg">' for n in range(80))
    page = read_page(article(head=head, images=images).encode(), BASE, None)
    assert len(page.images) == MAX_IMAGES
    assert page.images[0] == "https://static.example/assets/p0.jpg"


def test_encodings() -> None:
    text = "Die Fischotter sind zurück an der Elbe, sagt die Biologin Jürgen Weiß heute früh."
    html = f"<html><body><article><p>{text}</p><p>{PARAGRAPHS[0]}</p></article></body></html>"
    assert text in read_page(html.encode("latin-1"), BASE, "iso-8859-1").text
    japanese = "エルベ川にカワウソが五十年ぶりに戻ってきました。川の水がきれいになったからです。"
    sjis = f'<html><head><meta charset="shift_jis"></head><body><article><p>{japanese}</p>'
    sjis += f"<p>{japanese}</p></article></body></html>"
    assert japanese in read_page(sjis.encode("shift_jis"), BASE, None).text
    russian = "Выдры вернулись на Эльбу впервые за пятьдесят лет, сообщают биологи заповедника."
    cyrillic = f"<html><body><article><p>{russian}</p><p>{russian}</p></article></body></html>"
    assert russian in read_page(cyrillic.encode("windows-1251"), BASE, "windows-1251").text
    assert decode_page(russian.encode("windows-1251") * 5, None) == russian * 5
    broken = article().encode().replace(b"first time", b"first \xff\xfe time")
    page = read_page(broken, BASE, "utf-8")
    assert PARAGRAPHS[1] in page.text
    assert read_page(article().encode(), BASE, "no-such-charset").text


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=4000), st.sampled_from([None, "utf-8", "latin-1", "bogus", "utf-16"]))
def test_any_bytes_read_without_raising(body: bytes, charset: str | None) -> None:
    page = read_page(body, BASE, charset)
    assert all(url.startswith(("http://", "https://")) for url in page.images)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["<img src='", "<meta property='og:image' content='", "<a>", "<article>", "<p>"]
        )
        | st.text(max_size=30),
        max_size=30,
    )
)
def test_any_markup_reads_without_raising(pieces: list[str]) -> None:
    page = read_page("".join(pieces).encode(), BASE, None)
    urls = [*page.images, page.og.image, page.favicon_url]
    assert all(url is None or url.startswith(("http://", "https://")) for url in urls)


def test_deeply_nested_markup_is_read_up_to_a_depth() -> None:
    nested = "<div>" * 100_000 + "deep inside" + "</div>" * 100_000
    html = f"<html><head><title>Nested</title>{OG}</head><body>{nested}</body></html>"
    page = read_page(html.encode(), BASE, None)
    assert (page.title, page.og.site_name) == ("Nested", "Riverside")
    unclosed = "<p>A paragraph of the story that goes on.</p><li>" * 5_000
    long_page = article(images=unclosed + '<img src="/last.jpg">')
    assert "https://news.example/last.jpg" in read_page(long_page.encode(), BASE, None).images
    assert read_page(("<a" * 500_000).encode(), BASE, None).text == ""
