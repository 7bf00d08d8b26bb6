"""Videos described through the real app with the on-device models and in-process workers: each
scene's keyframe is described as an image, the video's description tells the scenes in order,
a caption on screen lands in its visible text, and identical bytes reuse the analysis with its
scenes."""

from __future__ import annotations

from typing import Any

from apiclient import Api
from scopix.server.catalog.models import Analysis, File
from scopix.server.catalog.uow import UnitOfWorkFactory
from videofactory import captioned_video, three_scenes

FILES = "/api/v2/files"


async def upload(api: Api, data: bytes, name: str = "harbour.mp4") -> str:
    sent = await api.client.post(f"{FILES}/upload", files={"file": (name, data)})
    assert sent.status_code == 201, sent.text
    assert sent.json()["media_type"] == "video"
    file_id: str = sent.json()["image_id"]
    return file_id


async def details(api: Api, file_id: str) -> dict[str, Any]:
    response = await api.client.get(f"{FILES}/{file_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def analysis_of(api: Api, file_id: str) -> Analysis:
    """The cached analysis the file's description was copied from."""
    async with UnitOfWorkFactory(api.services.database).read() as uow:
        file = await uow.session.get(File, file_id)
        assert file is not None and file.analysis_pipeline is not None
        analysis = await uow.analyses.get(file.tenant_id, file.sha256, file.analysis_pipeline)
    assert analysis is not None
    return analysis


async def test_each_scene_is_described_and_the_video_tells_them_in_order(api: Api) -> None:
    data, _ = three_scenes()  # coffee (3.2 s), a card "HARBOUR MASTER" (2.8 s), a cat (3 s)
    file_id = await upload(api, data)
    await api.drain()

    video = await details(api, file_id)
    assert video["description_status"] == "completed", video["description_error"]
    parts = (await analysis_of(api, file_id)).parts
    assert parts is not None
    assert [p["scene_index"] for p in parts] == [0, 1, 2]
    coffee, card, cat = parts
    assert {"coffee", "cup"} & set(coffee["tags"]), coffee
    assert card["description"] == 'An image with the text "HARBOUR MASTER".'
    assert card["visible_text"] == "HARBOUR\nMASTER"
    assert [r["text"] for r in card["text_regions"]] == ["HARBOUR", "MASTER"]
    assert all(0 <= v <= 1 for r in card["text_regions"] for v in r["bbox"].values())
    assert cat["description"].startswith("A cat") and "cat" in cat["tags"]

    description = video["description"]
    assert description.startswith("A video of 3 scenes, 0:09 long. Scene 1 (0:00–0:03): ")
    told = [
        f"Scene 1 (0:00–0:03): {coffee['description']}",
        f"Scene 2 (0:03–0:06): {card['description']}",
        f"Scene 3 (0:06–0:09): {cat['description']}",
    ]
    assert description.index(told[0]) < description.index(told[1]) < description.index(told[2])
    assert video["tags"][0] == "video" and {"text", "cat"} <= set(video["tags"])
    assert video["visible_text"] == "HARBOUR\nMASTER"
    assert video["text_regions"] == []  # each scene keeps its own


async def test_a_caption_on_screen_lands_in_the_videos_visible_text(api: Api) -> None:
    file_id = await upload(api, captioned_video("FERRY TO SKYE"), "ferry.mp4")
    await api.drain()
    video = await details(api, file_id)
    assert video["description_status"] == "completed", video["description_error"]
    assert video["visible_text"] == "FERRY TO SKYE"
    assert video["description"].startswith("A video of 1 scene, 0:03 long. Scene 1 (0:00–0:03):")
    assert '"FERRY TO SKYE"' in video["description"]


async def test_identical_bytes_reuse_the_analysis_with_its_scenes(api: Api) -> None:
    data, _ = three_scenes()
    first = await upload(api, data, "a.mp4")
    await api.drain()
    second = await upload(api, data, "b.mp4")
    await api.drain()

    one, two = await details(api, first), await details(api, second)
    assert two["description_status"] == "completed", two["description_error"]
    assert (one["description"], one["tags"]) == (two["description"], two["tags"])
    notes = [e["detail"] or "" for e in two["processing_history"]]
    assert any(n.startswith("reused the analysis of identical bytes") for n in notes)
    kept = await analysis_of(api, second)
    assert kept.parts == (await analysis_of(api, first)).parts
    assert kept.parts is not None and len(kept.parts) == 3
