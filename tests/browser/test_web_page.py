"""The web page, driven in Chromium as a person would use it."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import blurhash
import httpx
import pytest
from playwright.sync_api import Locator, Page, Request, expect

from browsertools import PageProblems, Screenshots, Site, sign_in, start_site
from docfactory import text_pdf
from imagefactory import coverage, document_png, jpeg_bytes
from scopix.server.web.forms import PAGE_SIZE
from vlmserver import FakeVLMServer

PHOTOS = Path(__file__).parent.parent / "assets" / "photos"
DESCRIBED = 120_000  # ms: three on-device analyses on two busy cores, with room to spare
TOTAL_LINE = "Total due 348 EUR"
PHONE = {"width": 390, "height": 844}


def api(site: Site, key: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{site.server.base_url}/api/v2", headers={"Authorization": f"Bearer {key}"}
    )


def upload_and_wait(page: Page, files: list[Path]) -> None:
    page.locator("#file-input").set_input_files([str(f) for f in files])
    expect(page.locator("#upload-list .upload")).to_have_count(len(files))
    cards = page.locator("#gallery .card[data-status='completed']")
    expect(cards).to_have_count(len(files), timeout=DESCRIBED)


def image_box(page: Page) -> dict[str, float]:
    image = page.locator("#detail-image")
    expect(image).to_have_js_property("complete", True)
    box = image.bounding_box()
    assert box is not None
    return box


def test_sign_in_upload_search_inspect_edit_and_delete(
    page: Page,
    site: Site,
    key: str,
    tmp_path: Path,
    screenshots: Screenshots,
    problems: PageProblems,
) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    invoice = tmp_path / "invoice.png"
    document, boxes = document_png()
    invoice.write_bytes(document)

    page.goto(site.url)
    screenshots.take(page, "01-sign-in")
    sign_in(page, site, key)
    expect(page.locator("#summary")).to_have_text(
        "No files yet: drop some images, documents or videos above."
    )

    upload_and_wait(page, [invoice, PHOTOS / "coffee.png", PHOTOS / "chelsea.png"])
    for row in page.locator("#upload-list .upload").all():
        expect(row.locator("progress")).to_have_js_property("value", 100)
        expect(row.locator(".state")).to_have_text("completed")
    expect(page.locator("#summary")).to_have_text("3 files")
    expect(page.locator("#gallery .card img.loaded")).to_have_count(3)
    screenshots.take(page, "02-gallery")

    # Full text finds the words in the picture; a search is in the address, the key never is.
    page.get_by_label("Search", exact=True).fill("invoice")
    page.get_by_label("Search mode").select_option("visible_text")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#gallery .card")).to_have_count(1)
    expect(page.locator("#gallery .card .name")).to_have_text("invoice.png")
    expect(page).to_have_url(re.compile(r"\?search=invoice&search_mode=visible_text$"))
    screenshots.take(page, "03-search")
    page.get_by_label("Search mode").select_option("semantic")
    page.get_by_label("Search", exact=True).fill("a cat")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#gallery .card").first.locator(".name")).to_have_text("chelsea.png")

    # The detail view draws each line of text where it is in the picture.
    page.get_by_label("Search", exact=True).fill("")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#gallery .card")).to_have_count(3)
    page.locator("#gallery .card", has_text="invoice.png").click()
    detail = page.locator("#detail")
    expect(detail).to_be_visible()
    expect(detail.locator(".description")).not_to_be_empty()
    frame = image_box(page)
    overlay = detail.locator("svg.regions").bounding_box()
    assert overlay is not None
    assert [overlay[k] for k in "xy"] == pytest.approx([frame[k] for k in "xy"], abs=1)
    assert overlay["width"] == pytest.approx(frame["width"], abs=1)
    assert overlay["height"] == pytest.approx(frame["height"], abs=1)
    file_id = detail.locator(".detail").get_attribute("data-id")
    with api(site, key) as client:
        stored = {r["text"]: r for r in client.get(f"/files/{file_id}").json()["text_regions"]}
    for text, ink in boxes.items():
        polygon = detail.locator(f".region[data-text='{text}'] polygon")
        drawn = polygon.evaluate(
            "p => { const b = p.getBBox(); return [b.x, b.y, b.width, b.height] }"
        )
        corners = stored[text]["polygon"]
        xs, ys = [x for x, _ in corners], [y for _, y in corners]
        hull = (min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))
        assert drawn == pytest.approx(hull, abs=1e-4), text  # drawn where the API says
        assert coverage(ink, tuple(drawn)) > 0.9, (text, drawn, ink)  # on its words
    detail.locator(f".region[data-text='{TOTAL_LINE}']").hover()
    expect(page.locator("#region-text")).to_be_visible()
    expect(page.locator("#region-text")).to_have_text(TOTAL_LINE)
    expect(detail.locator("#similar .card").first).to_be_visible()
    screenshots.take(page, "04-detail", full_page=False)

    # Tags are edited in place and saved through the API.
    detail.get_by_role("textbox", name="Your tags").fill("paperwork, invoice")
    detail.get_by_role("textbox", name="Title").fill("March invoice")
    detail.get_by_role("button", name="Save").click()
    expect(detail.locator(".saved")).to_have_text("Saved")
    expect(detail.locator(".tags li.mine")).to_have_text(["paperwork", "invoice"])
    expect(detail.get_by_role("textbox", name="Your tags")).to_have_value("paperwork, invoice")
    expect(page.locator("#gallery .card", has_text="March invoice")).to_have_count(1)
    with api(site, key) as client:
        stored = client.get(f"/files/{file_id}").json()
    assert stored["tags"][:2] == ["paperwork", "invoice"]  # then the description's
    assert stored["title"] == "March invoice"
    screenshots.take(page, "05-edited", full_page=False)

    # Delete asks first; a refusal keeps the file.
    page.once("dialog", lambda dialog: dialog.dismiss())
    detail.get_by_role("button", name="Delete").click()
    expect(detail).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    detail.get_by_role("button", name="Delete").click()
    expect(detail).to_be_hidden()
    expect(page.locator("#gallery .card")).to_have_count(2)
    expect(page.locator("#summary")).to_have_text("2 files")
    with api(site, key) as client:
        assert client.get(f"/files/{file_id}").status_code == 404
    screenshots.take(page, "06-deleted")

    assert page.evaluate("document.cookie") == ""
    assert page.evaluate("sessionStorage.getItem('scopix.apiKey')") == key
    assert not [url for url in requested if key.split("_", 2)[2] in url]
    assert problems.messages == []


def test_filters_narrow_the_gallery_and_survive_a_reload(
    page: Page, site: Site, key: str, screenshots: Screenshots, problems: PageProblems
) -> None:
    sign_in(page, site, key)
    upload_and_wait(page, [PHOTOS / "coffee.png", PHOTOS / "astronaut.png"])
    with api(site, key) as client:
        files = client.get("/files").json()["items"]
        astronaut = next(f for f in files if f["filename"] == "astronaut.png")
        client.patch(f"/files/{astronaut['id']}", json={"tags": ["space"]}).raise_for_status()

    page.locator(".more-filters summary").click()
    page.get_by_label("Tags").fill("space")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#gallery .card")).to_have_count(1)
    expect(page.locator("#summary")).to_have_text("1 file matches")
    page.get_by_label("Description").select_option("no")
    expect(page.locator("#gallery .card")).to_have_count(0)
    screenshots.take(page, "filters")

    page.reload()  # the filters are in the address; the key is in the tab's session storage
    expect(page.get_by_label("Description")).to_have_value("no")
    expect(page.locator("#summary")).to_have_text("0 files match")
    page.get_by_role("link", name="Clear").click()
    expect(page.locator("#gallery .card")).to_have_count(2)
    page.locator(".more-filters summary").click()
    page.get_by_label("Uploaded from").fill("2000-01-01")
    page.get_by_label("Uploaded to").fill("2000-01-02")
    page.get_by_label("Uploaded to").dispatch_event("change")
    expect(page.locator("#gallery .card")).to_have_count(0)
    assert problems.messages == []


def test_a_refused_key_is_not_kept(page: Page, site: Site, problems: PageProblems) -> None:
    page.goto(site.url)
    page.get_by_label("API key").fill("scopix_AAAAAAAA_not-a-real-secret")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#sign-in-error")).to_contain_text("sign in again")
    expect(page.locator("#app")).to_be_hidden()
    assert page.evaluate("sessionStorage.length") == 0
    # The browser reports the 401 itself; nothing else may go wrong.
    assert [m for m in problems.messages if "401" not in m] == []


def test_a_wrong_filter_in_the_address_is_explained(page: Page, site: Site, key: str) -> None:
    page.goto(f"{site.url}?search={'a' * 300}")  # typing stops at 200; an address does not
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#app")).to_be_visible()
    expect(page.locator("#gallery-error")).to_contain_text("at most 200 characters")
    page.get_by_label("Search", exact=True).fill("")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#summary")).to_have_text(
        "No files yet: drop some images, documents or videos above."
    )
    expect(page.locator("#gallery-error")).to_be_empty()


def test_keyboard_alone_signs_in_and_opens_a_file(
    page: Page, site: Site, key: str, screenshots: Screenshots
) -> None:
    sign_in(page, site, key)
    upload_and_wait(page, [PHOTOS / "rocket.jpg"])
    page.click("#sign-out")
    page.get_by_label("API key").focus()
    page.keyboard.type(key)
    page.keyboard.press("Enter")
    expect(page.locator("#gallery .card")).to_have_count(1)

    for _ in range(40):  # Tab through the page until the card's link has the focus
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('open')"):
            break
    else:
        pytest.fail("Tab never reached the gallery")
    page.keyboard.press("Enter")
    expect(page.locator("#detail")).to_be_visible()
    expect(page.locator("#detail .detail")).to_be_visible()
    screenshots.take(page, "keyboard-detail", full_page=False)
    page.keyboard.press("Escape")
    expect(page.locator("#detail")).to_be_hidden()
    expect(page).not_to_have_url(re.compile("#file="))
    page.keyboard.press("Enter")  # the focus is back on the card
    expect(page.locator("#detail")).to_be_visible()
    page.go_back()
    expect(page.locator("#detail")).to_be_hidden()


def test_readable_on_a_phone(
    page: Page, site: Site, key: str, screenshots: Screenshots, problems: PageProblems
) -> None:
    page.set_viewport_size(PHONE)
    sign_in(page, site, key)
    upload_and_wait(page, [PHOTOS / "coffee.png", PHOTOS / "text.png"])
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshots.take(page, "phone-gallery")
    page.locator("#gallery .card").first.click()
    expect(page.locator("#detail .detail")).to_be_visible()
    image_box(page)
    screenshots.take(page, "phone-detail", full_page=False)
    assert problems.messages == []


def test_placeholders_decode_as_the_reference_blurhash(page: Page, site: Site, key: str) -> None:
    sign_in(page, site, key)
    upload_and_wait(page, [PHOTOS / "chelsea.png"])
    with api(site, key) as client:
        hashes = [f["blur_hash"] for f in client.get("/files").json()["items"]]
    for blur_hash in [*hashes, "LEHV6nWB2yk8pyo0adR*.7kCMdnj", "L6PZfSi_.AyE_3t7t7R**0o#DgR4"]:
        reference = list(blurhash.decode(blur_hash, 12, 8).tobytes())  # RGB, row by row
        decoded = page.evaluate(
            "([hash, w, h]) => Array.from(window.Scopix.decodeBlurhash(hash, w, h))",
            [blur_hash, 12, 8],
        )
        rgb = [value for index, value in enumerate(decoded) if index % 4 != 3]
        assert max(abs(a - b) for a, b in zip(rgb, reference, strict=True)) <= 1


def test_a_retryable_failure_offers_a_retry_that_works(
    page: Page,
    tmp_path: Path,
    screenshots: Screenshots,
    problems: PageProblems,
) -> None:
    with FakeVLMServer() as vlm:
        vlm.behave("error", status=500, message="the model is overloaded")
        env = {
            "SCOPIX_ONDEVICE": "false",
            "SCOPIX_VLM_BASE_URL": vlm.base_url,
            "SCOPIX_VLM_MODEL": vlm.model,
            "SCOPIX_DESCRIBE_MAX_ATTEMPTS": "1",
        }
        site = start_site(tmp_path / "data", env)
        try:
            key = site.new_key("retry")
            sign_in(page, site, key)
            page.locator("#file-input").set_input_files(str(PHOTOS / "coffee.png"))
            expect(page.locator("#gallery .card[data-status='failed']")).to_have_count(1)
            page.locator("#gallery .card").first.click()
            failure = page.locator("#detail .failure")
            expect(failure).to_contain_text("Failed: vlm_error")
            expect(failure).to_contain_text("a retry can help")
            screenshots.take(page, "failed", full_page=False)

            vlm.behave("ok", description="A cup of coffee on a saucer.", tags=["coffee"])
            page.locator("#detail").get_by_role("button", name="Retry").click()
            expect(page.locator("#detail .description")).to_have_text(
                "A cup of coffee on a saucer.", timeout=30_000
            )
            expect(page.locator("#gallery .card[data-status='completed']")).to_have_count(1)
            expect(page.locator("#detail").get_by_role("button", name="Retry")).to_have_count(0)
        finally:
            site.server.stop()
    assert problems.messages == []


def test_no_request_carries_the_key_outside_its_header(page: Page, site: Site, key: str) -> None:
    carried: list[Request] = []
    page.on("request", lambda request: carried.append(request))
    sign_in(page, site, key)
    upload_and_wait(page, [PHOTOS / "coffee.png"])
    page.locator("#gallery .card").first.click()
    expect(page.locator("#detail .detail")).to_be_visible()
    secret = key.split("_", 2)[2]
    for request in carried:
        assert secret not in request.url
        headers = request.all_headers()
        authorization = headers.get("authorization")
        if request.url.startswith(f"{site.server.base_url}/ui/images/"):
            assert authorization is None  # images travel on signed links instead
        elif authorization is not None:
            assert authorization == f"Bearer {key}"
        assert secret not in headers.get("cookie", "")


DROP = """([files, big]) => {
  const dropped = new DataTransfer();
  for (const [name, type, encoded] of files) {
    const bytes = Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
    dropped.items.add(new File([bytes], name, { type }));
  }
  dropped.items.add(new File([new Uint8Array(big)], "huge.png", { type: "image/png" }));
  return dropped;
}"""


def test_dropped_files_upload_and_bad_ones_say_why(
    page: Page, site: Site, key: str, screenshots: Screenshots, problems: PageProblems
) -> None:
    sign_in(page, site, key)
    hostile_name = "<img src=x onerror=alert(1)>.png"  # browsers send " as %22
    files = [
        [
            hostile_name,
            "image/png",
            base64.b64encode((PHOTOS / "coffee.png").read_bytes()).decode(),
        ],
        # Not text (it has NUL bytes) and no known format: refused, whatever its name says.
        ["notes.txt.png", "image/png", base64.b64encode(b"\x00\x01junk\xff" * 40).decode()],
    ]
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    dropped = page.evaluate_handle(DROP, [files, 100 * 2**20 + 1])
    page.dispatch_event("#dropzone", "drop", {"dataTransfer": dropped})

    rows = page.locator("#upload-list .upload")
    expect(rows).to_have_count(3)
    expect(rows.filter(has_text="huge.png").locator(".state")).to_contain_text("FILE_TOO_LARGE")
    refused = rows.filter(has_text="notes.txt.png").locator(".state")
    expect(refused).to_contain_text("UNSUPPORTED_MEDIA_TYPE")
    expect(page.locator("#gallery .card[data-status='completed']")).to_have_count(
        1, timeout=DESCRIBED
    )
    expect(page.locator("#gallery .card .name")).to_have_text(hostile_name)
    screenshots.take(page, "dropped")
    assert dialogs == []
    with api(site, key) as client:
        assert client.get("/files").json()["total_count"] == 1
    assert [m for m in problems.messages if "status of 422" not in m] == []  # the refused file


def test_scrolling_down_loads_the_next_page(page: Page, site: Site, key: str) -> None:
    with api(site, key) as client:
        for seed in range(PAGE_SIZE + 6):
            data = jpeg_bytes(48 + seed, 32, seed=seed)
            client.post(
                "/files/upload",
                files={"file": (f"n{seed}.jpg", data)},
                data={"auto_describe": "false"},
            ).raise_for_status()
    sign_in(page, site, key)
    expect(page.locator("#gallery .card")).to_have_count(PAGE_SIZE)
    page.locator("#load-more").scroll_into_view_if_needed()
    expect(page.locator("#gallery .card")).to_have_count(PAGE_SIZE + 6)
    expect(page.locator("#load-more")).to_be_hidden()
    expect(page.locator("#gallery .card").last.locator(".name")).to_have_text("n0.jpg")
    expect(page.locator("#gallery .card[data-status='pending']")).to_have_count(PAGE_SIZE + 6)


REPORT = [
    ["Quarterly report", "Sales rose in every region.", "The outlook is steady."],
    ["Appendix", "Figures are in thousands of euros."],
    ["Notes", "Nothing else to add."],
    ["Contacts", "Write to the finance team."],
]


def loaded(image: Locator) -> None:
    expect(image).to_have_js_property("complete", True)
    assert image.evaluate("i => i.naturalWidth") > 0


def drawn_regions(page: Page) -> dict[str, tuple[float, ...]]:
    """The bounding boxes of the text boxes the viewer draws, by their text."""
    regions = page.locator("#page-view .region")
    return {
        str(region.get_attribute("data-text")): tuple(
            region.locator("polygon").evaluate(
                "p => { const b = p.getBBox(); return [b.x, b.y, b.width, b.height] }"
            )
        )
        for region in regions.all()
    }


def hull(polygon: list[list[float]]) -> tuple[float, ...]:
    xs, ys = [x for x, _ in polygon], [y for _, y in polygon]
    return (min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))


def test_a_pdf_shows_its_pages_their_text_boxes_and_text(
    page: Page,
    site: Site,
    key: str,
    tmp_path: Path,
    screenshots: Screenshots,
    problems: PageProblems,
) -> None:
    carried: list[Request] = []
    page.on("request", lambda request: carried.append(request))
    report = tmp_path / "report.pdf"
    report.write_bytes(text_pdf(REPORT, title="Quarterly report"))
    sign_in(page, site, key)
    upload_and_wait(page, [report])

    card = page.locator("#gallery .card").first
    loaded(card.locator("img"))  # page 1 is the thumbnail
    expect(card.locator(".doc-label")).to_have_text("PDF · 4 pages")
    expect(card.locator(".doc-facts .badge")).to_have_text("text completed")
    screenshots.take(page, "document-gallery")

    card.click()
    detail = page.locator("#detail")
    thumbs = detail.locator(".pages .page-thumb")
    expect(thumbs).to_have_count(4)
    for thumb in thumbs.all():
        loaded(thumb.locator("img"))
    expect(thumbs.first).to_have_attribute("aria-current", "page")
    expect(detail.locator("#page-of")).to_have_text("Page 1 of 4")
    expect(detail.locator(".page-text")).to_contain_text("Sales rose in every region.")
    expect(detail.locator(".page-text")).not_to_contain_text("thousands of euros")
    loaded(detail.locator("#page-image"))

    file_id = detail.locator(".detail").get_attribute("data-id")
    with api(site, key) as client:
        regions = client.get(f"/files/{file_id}").json()["text_regions"]
    by_page = {n: {r["text"]: r for r in regions if r.get("page") == n} for n in (1, 2, 4)}
    assert "Sales rose in every region." in by_page[1]

    # Page 1's boxes, where the API says, over the page as shown; none of page 2's.
    frame = detail.locator("#page-image").bounding_box()
    overlay = detail.locator("#page-view svg.regions").bounding_box()
    assert frame is not None and overlay is not None
    assert [overlay[k] for k in ("x", "y", "width", "height")] == pytest.approx(
        [frame[k] for k in ("x", "y", "width", "height")], abs=1
    )
    drawn = drawn_regions(page)
    assert set(drawn) == set(by_page[1])
    for text, box in drawn.items():
        assert box == pytest.approx(hull(by_page[1][text]["polygon"]), abs=1e-4), text
    line = detail.locator(".region[data-text='Sales rose in every region.']")
    line.hover()
    expect(page.locator("#region-text")).to_have_text("Sales rose in every region.")
    screenshots.take(page, "document-page-1", full_page=False)

    # A thumbnail opens its page; the steps walk the pages.
    thumbs.nth(1).click()
    expect(detail.locator("#page-of")).to_have_text("Page 2 of 4")
    expect(thumbs.nth(1)).to_have_attribute("aria-current", "page")
    expect(thumbs.first).not_to_have_attribute("aria-current", "page")
    expect(detail.locator(".page-text")).to_contain_text("Figures are in thousands of euros.")
    loaded(detail.locator("#page-image"))
    drawn = drawn_regions(page)
    assert set(drawn) == set(by_page[2])
    for text, box in drawn.items():
        assert box == pytest.approx(hull(by_page[2][text]["polygon"]), abs=1e-4), text
    screenshots.take(page, "document-page-2", full_page=False)
    detail.get_by_role("button", name="‹ Previous").click()
    expect(detail.locator("#page-of")).to_have_text("Page 1 of 4")
    thumbs.last.click()
    expect(detail.locator("#page-of")).to_have_text("Page 4 of 4")
    expect(detail.locator(".page-text")).to_contain_text("Write to the finance team.")
    loaded(detail.locator("#page-image"))
    assert set(drawn_regions(page)) == set(by_page[4])
    expect(detail.get_by_role("button", name="Next ›")).to_be_disabled()
    detail.get_by_label("Show text boxes").uncheck()
    expect(detail.locator("#page-view svg.regions")).to_be_hidden()
    page.set_viewport_size(PHONE)  # the page strip scrolls by itself, the dialog does not
    expect(thumbs.first).to_be_visible()
    assert detail.evaluate("d => d.scrollWidth <= d.clientWidth")
    assert detail.locator(".pages").evaluate("s => s.scrollWidth > s.clientWidth")

    secret = key.split("_", 2)[2]
    pages = [r for r in carried if r.url.startswith(f"{site.server.base_url}/ui/pages/")]
    assert len(pages) >= 7  # four thumbnails and three pages large
    for request in pages:
        assert request.all_headers().get("authorization") is None  # signed links instead
        assert secret not in request.url
    assert problems.messages == []
