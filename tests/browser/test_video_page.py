"""A video on the web page, in Chromium: it plays, and its scene strip seeks the player."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, Response, expect

from browsertools import PageProblems, Screenshots, Site, sign_in
from videofactory import three_scenes

#: The scenes found and three keyframes described by the on-device models on two busy cores.
ANALYSED = 240_000  # ms
PHONE = {"width": 390, "height": 844}


def test_a_video_plays_and_its_scene_strip_seeks_the_player(
    page: Page,
    site: Site,
    key: str,
    tmp_path: Path,
    screenshots: Screenshots,
    problems: PageProblems,
) -> None:
    originals: list[Response] = []
    page.on(
        "response",
        lambda r: originals.append(r) if "/ui/downloads/" in r.url else None,
    )
    data, _ = three_scenes()
    video = tmp_path / "three.mp4"
    video.write_bytes(data)
    sign_in(page, site, key)
    page.locator("#file-input").set_input_files(str(video))
    card = page.locator("#gallery .card")
    expect(card).to_have_count(1)
    expect(card.locator(".doc-label")).to_have_text("Video · 0:09")
    settled = page.locator("#gallery .card[data-status='completed'][data-moving='no']")
    expect(settled).to_have_count(1, timeout=ANALYSED)
    expect(card.locator(".doc-facts .badge")).to_have_text("scenes completed")
    screenshots.take(page, "video-gallery")

    card.click()
    detail = page.locator("#detail")
    player = detail.locator("#player")
    expect(player).to_be_visible()
    thumbs = detail.locator(".scenes .scene-thumb")
    expect(thumbs).to_have_count(3)
    for thumb in thumbs.all():
        image = thumb.locator("img")
        expect(image).to_have_js_property("complete", True)
        assert image.evaluate("i => i.naturalWidth") > 0
    expect(detail.locator(".scene-note")).to_have_count(3)
    expect(detail.locator(".scene-note").nth(1)).to_contain_text("HARBOUR")
    expect(thumbs.first).to_have_attribute("aria-current", "true")
    player.evaluate(
        "v => new Promise(done => v.readyState >= 1 ? done() : v.onloadedmetadata = done)"
    )
    assert player.evaluate("v => v.duration") > 8.5

    second = thumbs.nth(1)
    start = float(str(second.get_attribute("data-start")))
    assert 2.9 < start < 3.5  # the cut at 3.2 s
    second.click()
    expect(second).to_have_attribute("aria-current", "true")
    expect(thumbs.first).not_to_have_attribute("aria-current", "true")
    expect(detail.locator(".scene-note").nth(1)).to_have_attribute("aria-current", "true")
    # The seek completes: the frame at the scene's start is decoded from bytes fetched there.
    player.evaluate(
        "v => new Promise(done => (!v.seeking && v.readyState >= 2) ? done() : v.onseeked = done)"
    )
    assert player.evaluate("v => v.currentTime") == start
    assert player.evaluate("v => v.readyState") >= 2
    screenshots.take(page, "video-scene-2", full_page=False)

    thumbs.last.click()
    last_start = float(str(thumbs.last.get_attribute("data-start")))
    expect(thumbs.last).to_have_attribute("aria-current", "true")
    assert player.evaluate("v => v.currentTime") == last_start

    # Found by the words of its second scene, the video opens there.
    page.locator("#detail-close").click()
    page.get_by_label("Search", exact=True).fill("harbour master")
    page.get_by_role("button", name="Search").click()
    expect(card.locator(".scene-match")).to_have_text("Found in scene 2 at 0:03")
    card.click()
    expect(thumbs.nth(1)).to_have_attribute("aria-current", "true")
    assert player.evaluate("v => v.currentTime") == start

    page.set_viewport_size(PHONE)  # the scene strip scrolls by itself, the dialog does not
    expect(player).to_be_visible()
    expect(thumbs.first).to_be_visible()
    assert detail.evaluate("d => d.scrollWidth <= d.clientWidth")
    screenshots.take(page, "video-phone", full_page=False)

    assert originals, "the player fetched nothing"
    partial = [r for r in originals if r.status == 206]
    assert partial, [r.status for r in originals]
    for response in partial:
        assert response.request.all_headers().get("authorization") is None  # a signed link
        assert response.headers["content-range"].startswith("bytes ")
    assert problems.messages == []
