"""The web page's folders, driven in Chromium: the tree, opening a folder, its path, a new
folder, uploads into the open folder, and moving files by dragging them or by the keyboard."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from browsertools import PageProblems, Screenshots, Site, sign_in
from imagefactory import jpeg_bytes

PHOTOS = Path(__file__).parent.parent / "assets" / "photos"
HOSTILE = "<img src=x onerror=alert(1)>"
PHONE = {"width": 390, "height": 844}


def api(site: Site, key: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{site.server.base_url}/api/v2", headers={"Authorization": f"Bearer {key}"}
    )


def folder(client: httpx.Client, name: str, parent: str | None = None) -> str:
    body = {"name": name, "parent_id": parent, "project_id": None}
    response = client.post("/folders", json=body)
    response.raise_for_status()
    return str(response.json()["id"])


def put(client: httpx.Client, seed: int, folder_id: str | None = None) -> str:
    data: dict[str, Any] = {"auto_describe": "false"}
    if folder_id:
        data["folder_id"] = folder_id
    response = client.post(
        "/files/upload", files={"file": (f"n{seed}.jpg", jpeg_bytes(48, 32, seed=seed))}, data=data
    )
    response.raise_for_status()
    return str(response.json()["image_id"])


def placed(client: httpx.Client, file_id: str) -> str | None:
    folder_id: str | None = client.get(f"/files/{file_id}").json()["folder_id"]
    return folder_id


def tree_folder(page: Page, name: str) -> Any:
    """A folder's button in the tree, by its exact name."""
    return page.locator("#folder-tree .folder").filter(
        has=page.locator(".folder-name", has_text=re.compile(f"^{re.escape(name)}$"))
    )


def test_open_folders_from_the_tree_make_one_and_upload_into_it(
    page: Page, site: Site, key: str, screenshots: Screenshots, problems: PageProblems
) -> None:
    with api(site, key) as client:
        trips = folder(client, "Trips")
        rome = folder(client, "Rome", trips)
        hostile = folder(client, HOSTILE)
        in_rome = put(client, 1, rome)
        put(client, 2)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    sign_in(page, site, key)

    # The tree: top-level folders by name, a hostile name shown as text, Rome folded away.
    expect(page.locator("#folder-tree .folder-name")).to_have_text(
        ["All files", HOSTILE, "Trips", "Rome"]
    )
    expect(tree_folder(page, HOSTILE)).to_be_visible()
    assert page.locator("img[src='x']").count() == 0
    expect(tree_folder(page, "Rome")).to_be_hidden()
    expect(page.get_by_role("button", name="All files")).to_have_attribute("aria-current", "true")
    expect(page.locator("#summary")).to_have_text("2 files")
    expand = page.get_by_role("button", name="Subfolders of Trips")
    expect(expand).to_have_attribute("aria-expanded", "false")
    expand.click()
    expect(expand).to_have_attribute("aria-expanded", "true")
    expect(tree_folder(page, "Rome")).to_be_visible()
    expect(tree_folder(page, "Rome").locator(".count")).to_have_text("1 file")
    screenshots.take(page, "01-tree")

    # Opening a folder lists its own files only, shows the way back, and is in the address.
    tree_folder(page, "Rome").click()
    expect(tree_folder(page, "Rome")).to_have_attribute("aria-current", "true")
    expect(page.locator("#gallery .card")).to_have_count(1)
    expect(page.locator("#gallery .card")).to_have_attribute("data-id", in_rome)
    expect(page.locator("#summary")).to_have_text("1 file in this folder")
    crumbs = page.get_by_role("navigation", name="Folder path")
    expect(crumbs.locator("li")).to_have_text(["All files", "Trips", "Rome"])
    expect(crumbs.locator("[aria-current='page']")).to_have_text("Rome")
    expect(page).to_have_url(re.compile(rf"\?folder_id={rome}$"))
    expect(page.locator("#upload-where")).to_have_text("Uploads and links go into “Rome”.")

    # A new folder goes into the open one.
    page.get_by_role("button", name="New folder").click()
    expect(page.locator("#new-folder-where")).to_have_text("Inside “Rome”")
    page.get_by_label("Name of the new folder").fill("Forum")
    page.get_by_role("button", name="Create").click()
    expect(tree_folder(page, "Forum")).to_be_visible()
    expect(tree_folder(page, "Forum")).to_be_focused()
    expect(page.locator("#folder-status")).to_have_text("Created the folder “Forum”.")
    page.get_by_role("button", name="New folder").click()
    page.get_by_label("Name of the new folder").fill("forum")  # a sibling's name in any case
    page.get_by_role("button", name="Create").click()
    expect(page.locator("#new-folder-error")).to_contain_text("CONFLICT")
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("#new-folder-form")).to_be_hidden()

    # An upload made while a folder is open goes into it, and its count follows.
    page.locator("#file-input").set_input_files(str(PHOTOS / "coffee.png"))
    expect(page.locator("#gallery .card")).to_have_count(2)
    expect(tree_folder(page, "Rome").locator(".count")).to_have_text("2 files")
    uploaded = page.locator("#gallery .card").first.get_attribute("data-id")
    assert uploaded is not None
    with api(site, key) as client:
        assert placed(client, uploaded) == rome
        listed = client.get("/folders").json()["items"]
        assert [f["parent_id"] for f in listed if f["name"] == "Forum"] == [rome]
    screenshots.take(page, "02-folder-open")

    # The open folder survives a reload; the path walks back up.
    page.reload()
    expect(tree_folder(page, "Rome")).to_have_attribute("aria-current", "true")
    expect(page.locator("#gallery .card")).to_have_count(2)
    crumbs.get_by_role("button", name="Trips").click()
    expect(page.locator("#summary")).to_have_text(
        "This folder is empty: files dropped above go into it."
    )
    tree_folder(page, HOSTILE).click()
    expect(crumbs.locator("[aria-current='page']")).to_have_text(HOSTILE)
    expect(page.locator("#upload-where")).to_have_text(f"Uploads and links go into “{HOSTILE}”.")
    expect(page).to_have_url(re.compile(rf"\?folder_id={hostile}$"))
    crumbs.get_by_role("button", name="All files").click()
    expect(page.locator("#gallery .card")).to_have_count(3)
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.locator("#upload-where")).to_be_hidden()
    assert page.locator("img[src='x']").count() == 0
    assert dialogs == []
    assert [m for m in problems.messages if "status of 409" not in m] == []  # "forum" refused


def test_a_card_dragged_onto_a_folder_moves_there(
    page: Page, site: Site, key: str, screenshots: Screenshots, problems: PageProblems
) -> None:
    with api(site, key) as client:
        trips = folder(client, "Trips")
        first = put(client, 1)
        second = put(client, 2)
    sign_in(page, site, key)
    expect(page.locator("#gallery .card")).to_have_count(2)

    card = page.locator(f"#gallery .card[data-id='{first}']")
    card.drag_to(tree_folder(page, "Trips"))
    expect(page.locator("#folder-status")).to_have_text("Moved “n1.jpg” to “Trips”.")
    expect(tree_folder(page, "Trips").locator(".count")).to_have_text("1 file")
    expect(card).to_have_attribute("data-folder", trips)  # all files still shows it
    with api(site, key) as client:
        assert placed(client, first) == trips
        assert placed(client, second) is None
    screenshots.take(page, "dragged")

    # In an open folder, a file dragged out of it leaves the gallery.
    tree_folder(page, "Trips").click()
    expect(page.locator("#gallery .card")).to_have_count(1)
    card.drag_to(page.locator("#folder-tree .folder[data-folder='']"))
    expect(page.locator("#folder-status")).to_have_text("Moved “n1.jpg” out of its folder.")
    expect(page.locator("#gallery .card")).to_have_count(0)
    expect(page.locator("body")).not_to_have_class(re.compile("dragging-file"))
    expect(page.locator("#summary")).to_have_text(
        "This folder is empty: files dropped above go into it."
    )
    expect(tree_folder(page, "Trips").locator(".count")).to_have_text("0 files")
    with api(site, key) as client:
        assert placed(client, first) is None

    page.set_viewport_size(PHONE)  # the tree stacks above the files
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshots.take(page, "phone")
    assert problems.messages == []


def test_the_keyboard_moves_a_file_with_the_move_menu(
    page: Page, site: Site, key: str, screenshots: Screenshots, problems: PageProblems
) -> None:
    with api(site, key) as client:
        trips = folder(client, "Trips")
        archive = folder(client, "Archive")
        old = folder(client, "Old", archive)
        kept = put(client, 1, trips)
        moved = put(client, 2, trips)
    sign_in(page, site, key)
    tree_folder(page, "Trips").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#summary")).to_have_text("2 files in this folder")
    expect(tree_folder(page, "Trips")).to_be_focused()  # the tree was drawn again around it

    card = page.locator(f"#gallery .card[data-id='{moved}']")
    move = card.get_by_role("button", name="Move to…")
    move.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Move “n2.jpg”")
    expect(dialog).to_be_visible()
    choice = dialog.get_by_label("Folder")
    expect(choice).to_be_focused()
    expect(choice).to_have_value(trips)  # where it is now
    options = choice.locator("option")
    expect(options).to_have_text(
        ["No folder (top level)", "Archive", "\u00a0" * 3 + "Old", "Trips"]
    )
    page.keyboard.press("Escape")  # nothing moves
    expect(dialog).to_be_hidden()
    expect(move).to_be_focused()

    page.keyboard.press("Enter")
    choice.select_option(old)
    screenshots.take(page, "move-menu", full_page=False)
    page.keyboard.press("Tab")
    expect(dialog.get_by_role("button", name="Move")).to_be_focused()
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(page.locator("#folder-status")).to_have_text("Moved “n2.jpg” to “Old”.")
    expect(page.locator("#gallery .card")).to_have_count(1)
    expect(page.locator("#summary")).to_have_text("1 file in this folder")
    kept_card = page.locator(f"#gallery .card[data-id='{kept}'] .open")
    expect(kept_card).to_be_focused()  # the card now where the moved one was
    expect(page.get_by_role("button", name="Subfolders of Archive")).to_have_attribute(
        "aria-expanded", "false"
    )
    page.get_by_role("button", name="Subfolders of Archive").click()
    expect(tree_folder(page, "Old").locator(".count")).to_have_text("1 file")
    expect(tree_folder(page, "Trips").locator(".count")).to_have_text("1 file")
    with api(site, key) as client:
        assert placed(client, moved) == old
        assert placed(client, kept) == trips
    assert problems.messages == []
