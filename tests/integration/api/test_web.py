"""The web page's routes: the page, its key-authenticated fragments and its signed images."""

from __future__ import annotations

import re
import time
from html import unescape
from urllib.parse import parse_qs, urlsplit

import httpx

from apiclient import Api
from docfactory import encrypted_pdf, text_pdf
from imagefactory import jpeg_bytes, mp4_bytes
from scopix.server.domain.signing import PageGrant, ViewGrant, sign
from scopix.server.web.forms import PAGE_SIZE

UPLOAD = "/api/v2/files/upload"
IMG_SRC = re.compile(r'<img[^>]* src="([^"]+)"')


async def put(api: Api, seed: int, key: str | None = None, **fields: str) -> str:
    response = await api.client.post(
        UPLOAD,
        files={"file": (f"f{seed}.jpg", jpeg_bytes(40 + seed, 30 + seed, seed=seed))},
        data={"auto_describe": "false", **fields},
        headers=api.auth(key),
    )
    assert response.status_code == 201, response.text
    return str(response.json()["image_id"])


async def gallery(api: Api, key: str | None = None, **params: str) -> httpx.Response:
    response = await api.client.get("/ui/gallery", params=params, headers=api.auth(key))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "private, no-store"
    return response


def card_ids(html: str) -> list[str]:
    return re.findall(r'<li class="card" data-id="([^"]+)"', html)


def image_links(html: str) -> list[str]:
    return [unescape(src) for src in IMG_SRC.findall(html)]


async def test_the_page_needs_no_key_and_allows_no_inline_code(api: Api) -> None:
    response = await api.client.get("/", headers={"Authorization": ""})
    assert response.status_code == 200
    policy = response.headers["content-security-policy"]
    assert "script-src 'self';" in policy
    assert "style-src 'self';" in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["x-frame-options"] == "DENY"
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', response.text)
    assert len(assets) == 3
    for asset in assets:
        served = await api.client.get(asset)
        assert served.status_code == 200, asset
    assert "<script>" not in response.text
    assert " style=" not in response.text


async def test_filters_in_the_address_fill_the_form_escaped(api: Api) -> None:
    hostile = '"><script>alert(1)</script>'
    response = await api.client.get("/", params={"search": hostile, "has_description": "no"})
    assert "<script>alert(1)" not in response.text
    assert 'value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in response.text
    assert '<option value="no" selected>' in response.text


async def test_fragments_need_a_valid_key(api: Api) -> None:
    for path in ("/ui/gallery", "/ui/cards?ids=x", "/ui/files/x", "/ui/files/x/similar"):
        response = await api.client.get(path, headers={"Authorization": "Bearer scopix_bad"})
        assert response.status_code == 401, path
        assert response.json()["error"]["code"] == "INVALID_API_KEY"


async def test_a_tenant_sees_only_its_own_files(api: Api) -> None:
    mine = [await put(api, 1), await put(api, 2)]
    theirs = await put(api, 3, key=api.other_key)

    response = await gallery(api)
    assert card_ids(response.text) == list(reversed(mine))
    assert response.headers["x-total-count"] == "2"
    assert "x-next-offset" not in response.headers
    assert (await api.client.get(f"/ui/files/{theirs}")).status_code == 404
    assert (await api.client.get(f"/ui/files/{theirs}/similar")).status_code == 404
    followed = await api.client.get("/ui/cards", params={"ids": f"{mine[0]},{theirs}"})
    assert card_ids(followed.text) == [mine[0]]


async def test_the_gallery_pages_by_offset(api: Api) -> None:
    ids = [await put(api, seed) for seed in range(PAGE_SIZE + 1)]
    first = await gallery(api)
    assert len(card_ids(first.text)) == PAGE_SIZE
    assert first.headers["x-next-offset"] == str(PAGE_SIZE)
    rest = await gallery(api, offset=first.headers["x-next-offset"])
    assert card_ids(rest.text) == [ids[0]]
    assert "x-next-offset" not in rest.headers


async def test_filters(api: Api) -> None:
    tagged = await put(api, 1, tags="garden")
    await put(api, 2)
    await api.client.post(
        UPLOAD, files={"file": ("clip.mp4", mp4_bytes(4096))}, data={"auto_describe": "false"}
    )
    assert card_ids((await gallery(api, tags="garden")).text) == [tagged]
    assert len(card_ids((await gallery(api, media_type="video")).text)) == 1
    assert len(card_ids((await gallery(api, has_description="no")).text)) == 3
    assert card_ids((await gallery(api, has_description="yes")).text) == []
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert len(card_ids((await gallery(api, date_from=today, date_to=today)).text)) == 3
    assert card_ids((await gallery(api, date_to="2000-01-01")).text) == []
    blank = {name: "" for name in ("search", "tags", "media_type", "date_from", "date_to")}
    assert len(card_ids((await gallery(api, **blank)).text)) == 3


async def test_wrong_filters_name_their_field(api: Api) -> None:
    for field, value in (("date_from", "yesterday"), ("has_description", "maybe")):
        response = await api.client.get("/ui/gallery", params={field: value})
        assert response.status_code == 422
        body = response.json()["error"]
        assert body["code"] == "VALIDATION_ERROR"
        assert body["details"]["field"] == field


async def test_hostile_titles_and_tags_are_shown_as_text(api: Api) -> None:
    title = '<img src=x onerror="alert(1)">'
    file_id = await put(api, 1, title=title, tags="<b>bold</b>")
    for html in (
        (await gallery(api)).text,
        (await api.client.get(f"/ui/files/{file_id}")).text,
    ):
        assert "<img src=x" not in html
        assert "<b>bold" not in html
        assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html


async def test_images_travel_on_signed_links(api: Api) -> None:
    file_id = await put(api, 1)
    await put(api, 2, key=api.other_key)
    await api.drain()  # the variants
    link = image_links((await gallery(api)).text)[0]
    their_link = image_links((await gallery(api, key=api.other_key)).text)[0]
    anonymous = {"Authorization": ""}

    shown = await api.client.get(link, headers=anonymous)
    assert shown.status_code == 200
    assert shown.headers["content-type"] == "image/webp"

    path, query = urlsplit(link).path, parse_qs(urlsplit(link).query)
    their_tenant = parse_qs(urlsplit(their_link).query)["tenant"][0]
    tampered = {
        "signature": {**query, "signature": ["0" * 64]},
        "tenant": {**query, "tenant": [their_tenant]},
        "expiry": {**query, "expires": [str(int(query["expires"][0]) + 3600)]},
    }
    for what, params in tampered.items():
        refused = await api.client.get(path, params=params, headers=anonymous)
        assert refused.status_code == 403, what
        assert refused.json()["error"]["code"] == "INVALID_SIGNATURE"
    their_path = urlsplit(their_link).path
    assert (await api.client.get(their_path, params=query, headers=anonymous)).status_code == 403

    tenant = query["tenant"][0]
    past = int(time.time()) - 1
    grant = ViewGrant(tenant, file_id, "small_256", past)
    expired = {
        "tenant": tenant,
        "expires": past,
        "signature": sign(api.services.image_links.secret, grant),
    }
    refused = await api.client.get(path, params=expired, headers=anonymous)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "URL_EXPIRED"

    assert (await api.client.delete(f"/api/v2/files/{file_id}")).status_code == 204
    assert (await api.client.get(link, headers=anonymous)).status_code == 404


async def test_the_detail_links_the_original_as_a_download(api: Api) -> None:
    file_id = await put(api, 1)
    html = (await api.client.get(f"/ui/files/{file_id}")).text
    link = unescape(re.findall(r'<a href="(/ui/downloads/[^"]+)" download>', html)[0])
    response = await api.client.get(link, headers={"Authorization": ""})
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.content[:2] == b"\xff\xd8"


async def test_a_read_only_key_gets_no_controls_that_write(api: Api) -> None:
    file_id = await put(api, 1)
    reader = await api.services.keys.create_key("acme", scopes=("read",))
    html = (await api.client.get(f"/ui/files/{file_id}", headers=api.auth(reader.plaintext))).text
    assert 'data-action="update"' not in html
    assert 'data-action="delete"' not in html
    assert 'data-action="describe"' not in html
    assert 'data-action="update"' in (await api.client.get(f"/ui/files/{file_id}")).text


async def test_similar_images_explain_why_there_are_none_yet(api: Api) -> None:
    file_id = await put(api, 1)
    response = await api.client.get(f"/ui/files/{file_id}/similar")
    assert response.status_code == 200
    assert "no image features yet" in response.text
    assert card_ids(response.text) == []


PAGE_LINK = re.compile(r'src="(/ui/pages/[^"]+)"')
TWO_PAGES = [["Scopix page one", "The first page of two."], ["Scopix page two", "Where it ends."]]


def page_links(html: str) -> list[str]:
    return [unescape(src) for src in PAGE_LINK.findall(html)]


async def put_document(api: Api, name: str, data: bytes, key: str | None = None) -> str:
    response = await api.client.post(
        UPLOAD, files={"file": (name, data)}, data={"auto_describe": "false"}, headers=api.auth(key)
    )
    assert response.status_code == 201, response.text
    return str(response.json()["image_id"])


async def test_a_document_card_says_what_it_is_before_and_after_it_is_read(api: Api) -> None:
    file_id = await put_document(api, "two.pdf", text_pdf(TWO_PAGES))
    card = (await gallery(api)).text
    assert 'class="sheet"' in card  # no thumbnail yet: a sheet naming its type and name
    assert ">pdf</span>" in card
    assert ">two.pdf</span>" in card
    assert 'data-moving="yes"' in card  # the page follows it while its text is read
    await api.drain()
    card = (await gallery(api)).text
    assert 'class="sheet"' not in card
    assert image_links(card)  # page 1 as its thumbnail
    assert "PDF · 2 pages" in card
    assert "text completed" in card
    assert 'data-moving="no"' in card
    assert card_ids(card) == [file_id]


async def test_the_page_viewer_shows_a_page_and_its_text(api: Api) -> None:
    file_id = await put_document(api, "two.pdf", text_pdf(TWO_PAGES))
    image_id = await put(api, 1)
    await api.drain()

    detail = (await api.client.get(f"/ui/files/{file_id}")).text
    links = page_links(detail)
    *thumbnails, viewer = links  # the strip of pages, then the page shown
    assert urlsplit(viewer).path == f"/ui/pages/{file_id}/1"
    assert parse_qs(urlsplit(viewer).query)["size"] == ["1024"]
    assert [urlsplit(link).path for link in thumbnails] == [
        f"/ui/pages/{file_id}/{n}" for n in (1, 2)
    ]
    assert "The first page of two." in detail
    assert "Where it ends." not in detail

    second = await api.client.get(f"/ui/files/{file_id}/pages/2")
    assert second.status_code == 200
    assert second.headers["cache-control"] == "private, no-store"
    assert "Where it ends." in second.text
    # Its boxes come from the page's own extraction: this file was never described.
    assert "<title>Where it ends.</title>" in second.text
    assert "<title>The first page of two.</title>" not in second.text
    assert "Page 2 of 2" in second.text
    assert urlsplit(page_links(second.text)[0]).path == f"/ui/pages/{file_id}/2"

    past_the_end = await api.client.get(f"/ui/files/{file_id}/pages/3")
    assert past_the_end.status_code == 404
    assert (await api.client.get(f"/ui/files/{file_id}/pages/0")).status_code == 422
    not_a_document = await api.client.get(f"/ui/files/{image_id}/pages/1")
    assert not_a_document.status_code == 400
    assert not_a_document.json()["error"]["code"] == "WRONG_MEDIA_TYPE"
    theirs = await api.client.get(f"/ui/files/{file_id}/pages/1", headers=api.auth(api.other_key))
    assert theirs.status_code == 404
    anonymous = await api.client.get(f"/ui/files/{file_id}/pages/1", headers={"Authorization": ""})
    assert anonymous.status_code == 401


async def test_document_pages_travel_on_signed_links(api: Api) -> None:
    file_id = await put_document(api, "two.pdf", text_pdf(TWO_PAGES))
    their_id = await put_document(api, "theirs.pdf", text_pdf(TWO_PAGES[:1]), key=api.other_key)
    await api.drain()
    link = page_links((await api.client.get(f"/ui/files/{file_id}")).text)[-1]
    their_link = page_links(
        (await api.client.get(f"/ui/files/{their_id}", headers=api.auth(api.other_key))).text
    )[-1]
    anonymous = {"Authorization": ""}

    shown = await api.client.get(link, headers=anonymous)
    assert shown.status_code == 200
    assert shown.headers["content-type"] == "image/webp"
    assert shown.content[:4] == b"RIFF" and shown.content[8:12] == b"WEBP"
    assert shown.headers["cache-control"].startswith("private")

    path, query = urlsplit(link).path, parse_qs(urlsplit(link).query)
    their_query = parse_qs(urlsplit(their_link).query)
    tampered = {
        "signature": (path, {**query, "signature": ["0" * 64]}),
        "tenant": (path, {**query, "tenant": their_query["tenant"]}),
        "size": (path, {**query, "size": ["2048"]}),
        "expiry": (path, {**query, "expires": [str(int(query["expires"][0]) + 3600)]}),
        "page": (f"/ui/pages/{file_id}/2", query),
        "file": (urlsplit(their_link).path, query),
        "their link on my file": (path, their_query),
    }
    for what, (where, params) in tampered.items():
        refused = await api.client.get(where, params=params, headers=anonymous)
        assert refused.status_code == 403, what
        assert refused.json()["error"]["code"] == "INVALID_SIGNATURE", what
    # An image link's signature opens no page of the same file, and a page's no image.
    image_link = image_links((await gallery(api)).text)[0]
    image_query = parse_qs(urlsplit(image_link).query)
    image_query["size"] = ["1024"]
    assert (await api.client.get(path, params=image_query, headers=anonymous)).status_code == 403
    as_image = await api.client.get(f"/ui/images/{file_id}/small_256", params=query)
    assert as_image.status_code == 403

    # A genuine link for a tenant that does not own the file finds nothing.
    tenant = their_query["tenant"][0]
    expires = int(query["expires"][0])
    grant = PageGrant(tenant, file_id, 1, 1024, expires)
    foreign = {
        "size": 1024,
        "tenant": tenant,
        "expires": expires,
        "signature": sign(api.services.image_links.secret, grant),
    }
    assert (await api.client.get(path, params=foreign, headers=anonymous)).status_code == 404

    past = int(time.time()) - 1
    grant = PageGrant(query["tenant"][0], file_id, 1, 1024, past)
    expired = {**foreign, "tenant": query["tenant"][0], "expires": past}
    expired["signature"] = sign(api.services.image_links.secret, grant)
    refused = await api.client.get(path, params=expired, headers=anonymous)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "URL_EXPIRED"

    assert (await api.client.delete(f"/api/v2/files/{file_id}")).status_code == 204
    assert (await api.client.get(link, headers=anonymous)).status_code == 404


async def test_a_markdown_document_shows_its_text_and_its_page(api: Api) -> None:
    file_id = await put_document(api, "notes.md", b"# Shopping\n\nBuy *milk* and bread.\n")
    await api.drain()
    detail = (await api.client.get(f"/ui/files/{file_id}")).text
    assert "MD · 1 page" in detail
    assert "Buy milk and bread." in detail  # read as text, its markup gone
    assert 'class="pages"' not in detail  # one page: nothing to choose from
    (page,) = page_links(detail)
    shown = await api.client.get(page, headers={"Authorization": ""})
    assert shown.status_code == 200
    assert shown.headers["content-type"] == "image/webp"


async def test_a_document_whose_text_cannot_be_read_says_why(api: Api) -> None:
    file_id = await put_document(api, "locked.pdf", encrypted_pdf())
    await api.drain()
    card = (await gallery(api)).text
    assert 'class="sheet"' in card  # no thumbnail of a locked page
    assert "text failed" in card
    detail = (await api.client.get(f"/ui/files/{file_id}")).text
    assert "Text not extracted: validation" in detail
    assert "encrypted" in detail
    assert "No picture of this document" in detail
    assert page_links(detail) == []
