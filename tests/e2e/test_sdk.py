"""The SDK against real `scopix serve` processes: uploads, descriptions, batches, errors."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from docfactory import text_pdf
from imagefactory import jpeg_bytes
from scopix import (
    AuthenticationError,
    DescriptionError,
    DescriptionErrorType,
    DescriptionStatus,
    QuotaExceededError,
    RateLimitError,
    ResourceNotFoundError,
    Scopix,
    ScopixConnectionError,
    ScopixPermissionError,
    ScopixTimeoutError,
    ServerError,
    SyncScopix,
    UploadError,
    ValidationError,
    WrongMediaTypeError,
)
from scopix.server.testing import ServerProcess, start_server
from videofactory import three_scenes
from vlmserver import FakeVLMServer

PHOTOS = Path(__file__).parents[1] / "assets" / "photos"
DOCUMENTS = Path(__file__).parents[1] / "assets" / "documents"


def new_key(server: ServerProcess, data_dir: Path, tenant: str, *options: str) -> str:
    """A key made by the real CLI against the running server's catalog."""
    out = subprocess.run(
        [sys.executable, "-m", "scopix", "keys", "create", "--tenant", tenant, *options],
        env={**os.environ, "SCOPIX_DATA_DIR": str(data_dir)},
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip().splitlines()[-1]


def api(server: ServerProcess) -> str:
    return f"{server.base_url}/api/v2"


@pytest.fixture(scope="module")
def described(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Path]]:
    """A server with the real on-device models."""
    data = tmp_path_factory.mktemp("described")
    server = start_server(data)
    yield server, data
    server.stop()


@pytest.fixture(scope="module")
def fast(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FakeVLMServer, Path]]:
    """A fake VLM over real HTTP, so a thousand descriptions take seconds, not minutes."""
    with FakeVLMServer() as vlm:
        yield vlm, tmp_path_factory.mktemp("fast")


def vlm_env(vlm: FakeVLMServer, **extra: str) -> dict[str, str]:
    return {
        "SCOPIX_ONDEVICE": "false",
        "SCOPIX_VLM_BASE_URL": vlm.base_url,
        "SCOPIX_VLM_MODEL": vlm.model,
        "SCOPIX_JOB_LEASE_SECONDS": "5",
        "SCOPIX_IDEMPOTENCY_LEASE_SECONDS": "5",
        **extra,
    }


async def test_one_upload_comes_back_described(described: tuple[ServerProcess, Path]) -> None:
    server, _ = described
    async with Scopix(api_key=server.keys()[0], base_url=api(server), polling_interval=0.2) as c:
        result = await c.files.upload(PHOTOS / "page.png", tags=["scan"])
        assert result.is_completed, result
        assert result.description and result.visible_text
        assert result.tags and "scan" in result.tags
        assert result.text_regions and all(
            0 <= r["bbox"]["x"] <= 1 and 0 <= r["bbox"]["width"] <= 1 for r in result.text_regions
        )
        assert result.media_type == "image" and result.thumbnail_url
        again = await c.files.upload((PHOTOS / "page.png").read_bytes(), auto_describe=False)
        assert again.deduplicated is True and again.image_id != result.image_id
        with (PHOTOS / "page.png").open("rb") as handle:
            skipped = await c.files.upload(handle, skip_duplicates=True)
        assert (skipped.status, skipped.image_id) == ("skipped", result.image_id)
        status = await c.files.get_processing_status(result.image_id)
        assert status.description_status is DescriptionStatus.COMPLETED


def test_the_sync_client_reads_changes_and_deletes(
    described: tuple[ServerProcess, Path], tmp_path: Path
) -> None:
    server, _ = described
    with SyncScopix(api_key=server.keys()[0], base_url=api(server), polling_interval=0.2) as c:
        result = c.files.upload(PHOTOS / "chelsea.png")
        assert result.is_completed and result.tags
        changed = c.files.update(result.image_id, title="Chelsea", tags=["cat", "pet"])
        assert changed.title == "Chelsea"
        assert changed.tags[:2] == ["cat", "pet"]  # the user's tags, then the AI's
        assert result.image_id in [f.id for f in c.files.list(tags=["pet"]).items]
        assert c.files.get_variant(result.image_id, "small_256")[:4] == b"RIFF"
        saved = c.files.download(result.image_id, tmp_path / "copy.png")
        assert saved.read_bytes() == (PHOTOS / "chelsea.png").read_bytes()
        assert c.files.download(result.image_id) == saved.read_bytes()
        ids = [f.id for f in c.files.list_all(limit=2)]
        assert len(ids) == len(set(ids)) == c.files.list().total_count
        c.files.delete(result.image_id)
        with pytest.raises(ResourceNotFoundError):
            c.files.get(result.image_id)
        assert c.files.batch_delete([result.image_id, "nope"]).deleted == []
        described_again = c.files.upload(PHOTOS / "coffee.png", auto_describe=False)
        assert described_again.description_status is DescriptionStatus.PENDING
        queued = c.files.describe(described_again.image_id)
        assert queued.description_status in (DescriptionStatus.QUEUED, DescriptionStatus.PROCESSING)
        assert c.files.wait_for_description(described_again.image_id, timeout=120).is_completed
        assert c.usage.check(item_count=3).can_proceed


async def test_quota_runs_out_part_way_through_a_batch(
    described: tuple[ServerProcess, Path], tmp_path: Path
) -> None:
    server, data = described
    key = new_key(server, data, "small", "--tier", "free")
    folder = tmp_path / "batch"
    folder.mkdir()
    for seed in range(25):
        (folder / f"{seed:02}.jpg").write_bytes(jpeg_bytes(48, 32, seed=seed))
    async with Scopix(api_key=key, base_url=api(server)) as c:
        with pytest.raises(QuotaExceededError) as caught:
            await c.files.upload_batch(folder, wait_for_descriptions=False)
        partial = caught.value.partial_results
        assert partial is not None and len(partial) == 10  # the free tier: 10 a month
        assert caught.value.code == "QUOTA_EXCEEDED"
        stored = [f async for f in c.files.list_all()]
        assert sorted(f.id for f in stored) == sorted(r.image_id for r in partial)


async def test_every_error_type_comes_from_a_real_answer(
    described: tuple[ServerProcess, Path],
) -> None:
    server, data = described
    url = api(server)
    reader = new_key(server, data, "readers", "--scope", "read")
    limited = new_key(server, data, "busy", "--tier", "free")
    async with Scopix(api_key="scopix_AAAAAAAA_wrong", base_url=url) as c:
        with pytest.raises(AuthenticationError) as auth:
            await c.files.list()
    assert auth.value.request_id and auth.value.code == "INVALID_API_KEY"
    async with Scopix(api_key=reader, base_url=url) as c:
        with pytest.raises(ScopixPermissionError):
            await c.files.upload(b"anything")
    async with Scopix(api_key=server.keys()[0], base_url=url, tenant_id="someone-else") as c:
        with pytest.raises(ScopixPermissionError) as mixed_up:
            await c.files.list()
    assert mixed_up.value.details["field"] == "X-Tenant-ID"
    async with Scopix(api_key=server.keys()[0], base_url=url, tenant_id="default") as c:
        with pytest.raises(ResourceNotFoundError):
            await c.files.get("01900000-0000-7000-8000-000000000000")
        with pytest.raises(ValidationError) as corrupt:
            await c.files.upload(jpeg_bytes(64, 64)[:200] + b"\0" * 100)
        assert corrupt.value.code == "CORRUPT_FILE"
        queued = await c.files.upload(jpeg_bytes(640, 480, seed=99), wait_for_descriptions=False)
        with pytest.raises(ScopixTimeoutError):
            await c.files.wait_for_description(queued.image_id, timeout=0.001)
    async with Scopix(api_key=limited, base_url=url, max_retries=0) as c:
        with pytest.raises(RateLimitError) as rate:
            for _ in range(12):  # the free tier: 10 requests a minute
                await c.files.list(limit=1)
    assert rate.value.retry_after is not None and rate.value.retry_after >= 1
    async with Scopix(api_key="k", base_url=f"http://127.0.0.1:{_closed_port()}/api/v2") as c:
        with pytest.raises(ScopixConnectionError):
            await c.files.list()


async def test_storage_failures_are_server_errors_and_change_nothing(
    described: tuple[ServerProcess, Path],
) -> None:
    server, data = described
    key = new_key(server, data, "fragile", "--tier", "enterprise")
    blobs = data / "blobs"
    async with Scopix(api_key=key, base_url=api(server), max_retries=0) as c:
        before = set(blobs.iterdir())
        first = await c.files.upload(jpeg_bytes(64, 64, seed=1), auto_describe=False)
        (tenant_dir,) = set(blobs.iterdir()) - before
        with replaced_by_a_file(tenant_dir):  # where this tenant's blobs go
            with pytest.raises(ServerError) as failed:
                await c.files.upload(jpeg_bytes(64, 64, seed=2), auto_describe=False)
            assert (failed.value.status_code, failed.value.code) == (503, "UNAVAILABLE")
            results = await c.files.upload_batch(
                [jpeg_bytes(64, 64, seed=s) for s in (3, 4)], auto_describe=False
            )
            assert results.failed_count == 2 and len(results.retryable()) == 2
        with replaced_by_a_file(blobs / ".staging"):  # where every upload is received
            with pytest.raises(UploadError) as batch:
                await c.files.upload_batch([jpeg_bytes(64, 64, seed=5)], auto_describe=False)
            assert batch.value.partial_results == []
            assert batch.value.status_code == 503
        assert [f.id async for f in c.files.list_all()] == [first.image_id]
        again = await c.files.upload(jpeg_bytes(64, 64, seed=2), auto_describe=False)
        assert again.image_id


@contextmanager
def replaced_by_a_file(folder: Path) -> Iterator[None]:
    """Break storage the way a failed mount would: the folder becomes a plain file."""
    aside = folder.with_name(folder.name + ".aside")
    shutil.move(folder, aside)
    folder.write_bytes(b"not a folder")
    try:
        yield
    finally:
        folder.unlink()
        shutil.move(aside, folder)


async def test_a_failed_description_raises_with_its_classification(
    fast: tuple[FakeVLMServer, Path],
) -> None:
    vlm, data = fast
    vlm.behave("error", status=400, message="this model refuses images")
    server = start_server(data / "failing", env=vlm_env(vlm, SCOPIX_DESCRIBE_MAX_ATTEMPTS="1"))
    try:
        async with Scopix(
            api_key=server.keys()[0], base_url=api(server), polling_interval=0.2
        ) as c:
            with pytest.raises(DescriptionError) as caught:
                await c.files.upload(jpeg_bytes(96, 64, seed=5))
    finally:
        server.stop()
        vlm.behave("ok")
    (failure,) = caught.value.failures
    # What happened, in Scopix's words: the provider's own words stay in the server's log.
    assert failure.image_id and "refused the request (HTTP 400" in failure.error_message
    assert "refuses images" not in failure.error_message
    assert (failure.error_type, failure.is_retryable) == (DescriptionErrorType.VLM_ERROR, True)


def small_images(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for seed in range(count):
        path = folder / f"img{seed:05}.jpg"
        path.write_bytes(jpeg_bytes(40 + seed % 7, 30 + seed % 5, seed=seed, quality=70))
        paths.append(path)
    return paths


#: Six requests of 100, four in flight at once.
BIG_BATCH_FILES = 600


def test_a_big_batch_survives_a_server_crash(fast: tuple[FakeVLMServer, Path]) -> None:
    """Files in several requests; the server is SIGKILLed and restarted once 200 are answered,
    with requests mid-way: every file ends up stored exactly once, described, and the summary
    says so. (1,200 files proved no more than 600, and cost a minute more.)"""
    vlm, data = fast
    env = vlm_env(vlm)
    paths = small_images(data / "images", BIG_BATCH_FILES)
    digests = {hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}
    assert len(digests) == BIG_BATCH_FILES
    server = start_server(data / "catalog", env=env)
    key = new_key(server, data / "catalog", "bulk", "--tier", "enterprise")
    crash = threading.Event()
    restarted: list[ServerProcess] = []

    def crash_and_restart() -> None:
        crash.wait()
        server.kill()
        restarted.append(start_server(data / "catalog", env=env, port=server.port))

    crasher = threading.Thread(target=crash_and_restart, daemon=True)
    crasher.start()
    completed: list[object] = []

    def on_file(result: object) -> None:
        completed.append(result)
        if len(completed) >= 200:
            crash.set()

    try:
        with SyncScopix(
            api_key=key, base_url=api(server), max_retries=12, retry_delay=0.5, polling_interval=0.5
        ) as c:
            results = c.files.upload_batch(
                data / "images", max_concurrency=4, on_file_complete=on_file
            )
            stored = list(c.files.list_all())
    finally:
        crash.set()
        crasher.join(timeout=90)
        for process in (server, *restarted):
            process.stop()
    assert restarted, "the server was never crashed"
    assert results.summary() == f"{BIG_BATCH_FILES} succeeded"
    assert [r.filename for r in results] == [p.name for p in paths]
    assert len({r.image_id for r in results}) == BIG_BATCH_FILES
    assert len(stored) == BIG_BATCH_FILES, "a retried request must not store its files twice"
    assert {f.content_hash for f in stored} == digests


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_bytes_and_file_objects_in_one_batch(described: tuple[ServerProcess, Path]) -> None:
    server, _ = described
    with SyncScopix(api_key=server.keys()[0], base_url=api(server)) as c:
        # the junk holds a NUL byte: plain text would be taken as a document
        results = c.files.upload(
            [jpeg_bytes(30, 20, seed=400), io.BytesIO(jpeg_bytes(30, 20, seed=401)), b"\x00junk"],
            auto_describe=False,
            raise_on_failure=False,
        )
    assert all(r.image_id and r.deduplicated is False for r in results[:2])
    assert results[2].is_failed and "UNSUPPORTED_MEDIA_TYPE" in (results[2].description_error or "")
    assert results.summary() == "0 succeeded, 1 failed (0 retryable), 2 pending"


#: A sentence in the middle of page 2 of the manual, and nowhere else.
PROBE = "The pressure relief valve is kept in the blue cabinet by the stairs."
PARTS = ("pump", "filter", "gauge", "hose", "boiler", "fan", "drain", "seal", "belt", "tank")


def manual_pdf() -> bytes:
    """Three pages of maintenance steps with a real text layer, the probe on page 2."""
    pages = [[_step(page, line) for line in range(1, 26)] for page in (1, 2, 3)]
    pages[1][12] = PROBE
    return text_pdf(pages, title="Plant room manual")


def _step(page: int, line: int) -> str:
    return f"Step {page}.{line}: inspect the {PARTS[line % 10]} and note its state in the log."


def document_folder(root: Path) -> Path:
    """A PDF with a text layer, a DOCX made by Word, a Markdown and a Latin-1 text file, and
    a CSV file that a folder upload leaves out."""
    folder = root / "documents"
    folder.mkdir()
    (folder / "manual.pdf").write_bytes(manual_pdf())
    shutil.copy(DOCUMENTS / "python-docx-heading.docx", folder / "heading.docx")
    (folder / "boiler.md").write_text(
        "# Boiler notes\n\nBleed the radiators every **autumn**.\n\n- check the pressure\n"
    )
    (folder / "menu.txt").write_bytes("Le café est fermé le dimanche.\n".encode("latin-1"))
    (folder / "sizes.csv").write_text("name,bytes\n")
    return folder


async def test_documents_are_uploaded_read_and_searched(
    described: tuple[ServerProcess, Path], tmp_path: Path
) -> None:
    server, _ = described
    async with Scopix(api_key=server.keys()[0], base_url=api(server), polling_interval=0.2) as c:
        results = await c.files.upload_batch(document_folder(tmp_path), raise_on_failure=True)
        ids = {r.filename: r.image_id for r in results}
        assert sorted(ids) == ["boiler.md", "heading.docx", "manual.pdf", "menu.txt"]
        assert all(r.media_type == "document" and r.is_completed for r in results), results
        types = {name: (await c.files.get(i)).document_type for name, i in ids.items()}
        assert types == {
            "boiler.md": "md",
            "heading.docx": "docx",
            "manual.pdf": "pdf",
            "menu.txt": "txt",
        }

        pdf = await c.files.get(ids["manual.pdf"])
        assert (pdf.page_count, pdf.text_extraction_status) == (3, "completed")
        assert pdf.chunk_count is not None and pdf.chunk_count > 1
        text = await c.files.get_text(ids["manual.pdf"])
        assert [p.page for p in text.pages] == [1, 2, 3]
        assert PROBE in text.page(2).text and PROBE not in text.page(1).text
        assert "Step 3.25: inspect the fan" in text.page(3).text

        chunks = [chunk async for chunk in c.files.iter_chunks(ids["manual.pdf"])]
        assert [chunk.chunk_index for chunk in chunks] == list(range(pdf.chunk_count))
        assert chunks[0].page_numbers[0] == 1 and chunks[-1].page_numbers[-1] == 3
        some = await c.files.list_chunks(ids["manual.pdf"], limit=2, offset=1)
        assert (some.items, some.total_count) == (chunks[1:3], len(chunks))
        assert some.has_more is (len(chunks) > 3)

        found = await c.documents.search(PROBE, search_mode="text", limit=3)
        best = found.items[0]
        assert (best.document_id, best.document_filename) == (ids["manual.pdf"], "manual.pdf")
        assert PROBE in best.content and 2 in best.page_numbers and 0 < best.score <= 1
        mine = await c.documents.search("radiators", file_ids=[ids["boiler.md"]])
        assert mine.items and {hit.document_id for hit in mine.items} == {ids["boiler.md"]}

        boiler = await c.files.get_text(ids["boiler.md"])
        assert "Bleed the radiators every autumn." in boiler.text and "**" not in boiler.text
        assert "Le café est fermé le dimanche." in (await c.files.get_text(ids["menu.txt"])).text
        status = await c.files.get_processing_status(ids["heading.docx"])
        assert (status.text_extraction_status, status.page_count) == ("completed", 1)

        image = await c.files.upload(PHOTOS / "coffee.png", auto_describe=False)
        assert (await c.files.get(image.image_id)).text_extraction_status is None
        with pytest.raises(WrongMediaTypeError):
            await c.files.get_text(image.image_id)
        with pytest.raises(WrongMediaTypeError):
            await c.files.list_chunks(image.image_id)


def test_the_sync_client_reads_a_document(described: tuple[ServerProcess, Path]) -> None:
    server, _ = described
    with SyncScopix(api_key=server.keys()[0], base_url=api(server), polling_interval=0.2) as c:
        # waiting for the description waits for the text too: it can be read at once
        result = c.files.upload(b"Sync notes.\n\nThe spare key hangs behind the kitchen door.\n")
        assert result.media_type == "document"
        assert "spare key" in c.files.get_text(result.image_id).text
        chunks = list(c.files.iter_chunks(result.image_id))
        assert chunks == c.files.list_chunks(result.image_id).items
        assert chunks[0].page_numbers == [1]
        hits = c.documents.search("where is the spare key", file_ids=[result.image_id])
        assert [hit.chunk_id for hit in hits.items] == [chunks[0].chunk_id]


def test_a_video_is_uploaded_cut_into_scenes_and_found_by_a_scene(
    described: tuple[ServerProcess, Path], tmp_path: Path
) -> None:
    server, _ = described
    data, cuts = three_scenes()
    video = tmp_path / "harbour.mp4"
    video.write_bytes(data)
    with SyncScopix(api_key=server.keys()[0], base_url=api(server), polling_interval=0.2) as c:
        # waiting for the description waits for the scenes too: they can be read at once
        result = c.files.upload(video)
        assert (result.media_type, result.is_completed) == ("video", True), result
        details = c.files.get(result.image_id)
        assert details.video_metadata is not None and details.video_metadata.width == 640
        assert (details.video_analysis_status, details.scene_count) == ("completed", 3)
        scenes = c.files.get_scenes(result.image_id)
        starts = [scene.start_seconds for scene in scenes.items[1:]]
        assert all(abs(start - cut) <= 0.25 for start, cut in zip(starts, cuts, strict=True))
        assert "HARBOUR" in (scenes.at(4.5).visible_text or "").upper()
        found = c.files.list(search="harbour master", media_types=["video"])
        assert [f.matched_scene.scene_index for f in found.items if f.matched_scene] == [1]
        with pytest.raises(WrongMediaTypeError):
            c.files.get_text(result.image_id)
    headers = {"Authorization": f"Bearer {server.keys()[0]}", "Range": "bytes=100-199"}
    part = httpx.get(f"{api(server)}/files/{result.image_id}/download", headers=headers)
    assert (part.status_code, part.content) == (206, data[100:200])
    assert part.headers["content-range"] == f"bytes 100-199/{len(data)}"
