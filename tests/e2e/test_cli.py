"""The `scopix` client commands as a person runs them, against a real server process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from scopix.server.testing import SCOPIX, ServerProcess, start_server

pytestmark = pytest.mark.slow

PHOTOS = Path(__file__).parent.parent / "assets" / "photos"
DOCUMENTS = Path(__file__).parent.parent / "assets" / "documents"
IMAGES = sorted(p.name for p in PHOTOS.iterdir() if p.suffix in {".png", ".jpg"})
# Everything server-side, as if only the `cli` extra were installed (typer brings pydantic).
SERVER_ONLY = ("scopix.server", "fastapi", "sqlalchemy", "pydantic_settings", "uvicorn", "pyvips")


Done = subprocess.CompletedProcess[str]


@dataclass
class Cli:
    """Runs `python -m scopix ...` against one server with its first key."""

    server: ServerProcess
    data_dir: Path
    env: dict[str, str]

    def run(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*SCOPIX, *args], capture_output=True, text=True, env=env or self.env, timeout=300
        )

    def json(self, *args: str) -> Any:
        done = self.run(*args, "--json")
        assert done.returncode == 0, done.stderr
        assert done.stderr == ""
        return json.loads(done.stdout)


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    data_dir = tmp_path_factory.mktemp("cli") / "data"
    server = start_server(data_dir)
    env = {
        **os.environ,
        "SCOPIX_API_KEY": server.keys()[0],
        "SCOPIX_BASE_URL": f"{server.base_url}/api/v2",
        "SCOPIX_POLLING_INTERVAL": "0.3",
    }
    yield Cli(server, data_dir, env)
    server.stop()


@pytest.fixture(scope="module")
def uploaded(cli: Cli, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """The test photos uploaded as a folder, with a CSV file and a hidden image beside them
    that a folder upload leaves out."""
    folder = tmp_path_factory.mktemp("photos")
    for name in IMAGES:
        shutil.copy(PHOTOS / name, folder / name)
    (folder / "sizes.csv").write_text("name,bytes\n")
    shutil.copy(PHOTOS / "text.png", folder / ".x.png")
    results: list[dict[str, Any]] = cli.json("upload", str(folder), "--wait", "--tags", "cli,e2e")
    return results


def one_error_line(done: Done) -> str:
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_upload_folder_describes_every_image(uploaded: list[dict[str, Any]]) -> None:
    assert sorted(r["filename"] for r in uploaded) == IMAGES
    for result in uploaded:
        assert result["image_id"] and result["status"] == "completed"
        assert result["description_status"] == "completed"
        assert result["description"]
        assert {"cli", "e2e"} <= set(result["tags"])


def test_upload_prints_a_table_and_the_summary(cli: Cli) -> None:
    done = cli.run("upload", str(PHOTOS / "coffee.png"), str(PHOTOS / "rocket.jpg"))
    assert done.returncode == 0, done.stderr
    assert "coffee.png" in done.stdout and "rocket.jpg" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "2 succeeded"
    assert done.stderr == ""  # no progress display when stderr is no terminal


def test_a_corrupt_file_fails_the_upload_but_not_the_others(cli: Cli, tmp_path: Path) -> None:
    shutil.copy(PHOTOS / "chelsea.png", tmp_path / "chelsea.png")
    # a NUL byte keeps it from being plain text, which is a document now
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg\x00 nor text " * 64)
    done = cli.run("upload", str(tmp_path), "--json")
    assert done.returncode == 1 and done.stderr == ""
    results = {r["filename"]: r for r in json.loads(done.stdout)}
    assert results["broken.jpg"]["status"] == "failed"
    assert results["broken.jpg"]["description_error"].startswith("UNSUPPORTED_MEDIA_TYPE")
    assert results["chelsea.png"]["description_status"] == "completed"

    human = cli.run("upload", str(tmp_path), "--no-wait")
    assert human.returncode == 1
    assert "1 failed" in human.stdout.strip().splitlines()[-1]


def test_ls_pages_through_the_files(cli: Cli, uploaded: list[dict[str, Any]]) -> None:
    page = cli.json("ls", "--limit", "100")
    assert {r["image_id"] for r in uploaded} <= {item["id"] for item in page["items"]}
    total = page["total_count"]
    done = cli.run("ls", "--limit", "2", "--offset", "1")
    assert done.returncode == 0
    assert done.stdout.strip().splitlines()[-1] == f"showing 2-3 of {total}"
    tagged = cli.json("ls", "--tag", "e2e", "--tag", "cli", "--limit", "100")
    assert tagged["total_count"] == len(uploaded)


def test_get_shows_one_file(cli: Cli, uploaded: list[dict[str, Any]]) -> None:
    first = uploaded[0]
    details = cli.json("get", first["image_id"])
    assert details["id"] == first["image_id"] and details["filename"] == first["filename"]
    assert details["description"] == first["description"]
    assert details["width"] > 0 and details["description_status"] == "completed"
    assert details["created_at"].startswith("20")
    shown = cli.run("get", first["image_id"])
    assert shown.returncode == 0 and first["filename"] in shown.stdout
    assert "description status" in shown.stdout


def test_search_and_quota(cli: Cli, uploaded: list[dict[str, Any]]) -> None:
    found = cli.json("search", "cat", "--mode", "metadata", "--limit", "5")
    assert len(found["items"]) <= 5 and "total_count" in found
    by_meaning = cli.json("search", "a picture", "--mode", "semantic", "--limit", "3")
    assert 1 <= len(by_meaning["items"]) <= 3  # described files always have a nearest
    first = uploaded[0]["image_id"]
    alike = cli.json("similar", first, "--limit", "2")
    assert alike["items"] and first not in [item["id"] for item in alike["items"]]
    assert "showing 1-" in cli.run("similar", first).stdout
    quota = cli.json("quota", "--files", "3")
    assert quota["requested"] == 3 and quota["can_proceed"] is True
    assert cli.run("quota").stdout.count("max batch size") == 1


def test_describe_again(cli: Cli, uploaded: list[dict[str, Any]]) -> None:
    image_id = uploaded[-1]["image_id"]
    result = cli.json("describe", image_id, "--timeout", "120")
    assert result["image_id"] == image_id and result["description_status"] == "completed"
    assert result["description"]
    queued = cli.json("describe", image_id, "--no-wait")
    assert queued["description_status"] in {"queued", "processing", "completed"}


def test_errors_are_one_line(cli: Cli) -> None:
    bad_key = cli.run("ls", env={**cli.env, "SCOPIX_API_KEY": "scopix_AAAAAAAA_not-a-key"})
    assert bad_key.returncode == 1 and bad_key.stdout == ""
    assert one_error_line(bad_key).startswith("error: INVALID_API_KEY: ")
    unknown = cli.run("get", "01a22400-0000-7000-8000-000000000000", "--json")
    assert unknown.returncode == 1 and unknown.stdout == ""
    assert one_error_line(unknown).startswith("error: NOT_FOUND: ")
    no_key = cli.run("quota", env={k: v for k, v in cli.env.items() if k != "SCOPIX_API_KEY"})
    assert no_key.returncode == 2 and "SCOPIX_API_KEY" in one_error_line(no_key)


def test_a_quota_stop_shows_what_was_done(cli: Cli, tmp_path: Path) -> None:
    for n in range(12):  # the free tier describes 10 files a month
        shutil.copy(PHOTOS / "text.png", tmp_path / f"t{n:02}.png")
    over = cli.run("upload", str(tmp_path), "--json", env=_free_tenant(cli, "over"))
    assert over.returncode == 1
    # Which request the quota stops is a race: the server refuses files of a request one by
    # one, or a whole request (then the results are those of the requests before, unwaited).
    results = json.loads(over.stdout)
    refused = [r["description_error"] for r in results if r["description_status"] == "failed"]
    assert len(results) - len(refused) == 10
    assert all(error.startswith("QUOTA_EXCEEDED") for error in refused)
    if len(results) < 12:
        assert one_error_line(over).startswith("error: QUOTA_EXCEEDED: ")


def test_a_run_the_quota_stops_before_any_file_has_no_results(cli: Cli, tmp_path: Path) -> None:
    # A tenant of its own: the free tier's 10 requests a minute are not spent on the run above.
    env = _free_tenant(cli, "spent")
    for n in range(10):
        shutil.copy(PHOTOS / "text.png", tmp_path / f"t{n:02}.png")
    assert cli.run("upload", str(tmp_path), "--json", env=env).returncode == 0
    stopped = cli.run("upload", str(tmp_path / "t00.png"), "--json", env=env)
    assert stopped.returncode == 1 and json.loads(stopped.stdout) == []
    assert one_error_line(stopped).startswith("error: QUOTA_EXCEEDED: ")


def _free_tenant(cli: Cli, tenant: str) -> dict[str, str]:
    """The CLI's environment with the key of a new free-tier tenant."""
    made = subprocess.run(
        [*SCOPIX, "keys", "create", "--tenant", tenant, "--tier", "free"],
        capture_output=True,
        text=True,
        env={**cli.env, "SCOPIX_DATA_DIR": str(cli.data_dir)},
        check=True,
    )
    return {**cli.env, "SCOPIX_API_KEY": made.stdout.strip()}


@pytest.fixture(scope="module")
def documents(cli: Cli, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A PDF made by Google Docs and a Markdown file uploaded as a folder: their ids by name."""
    folder = tmp_path_factory.mktemp("documents")
    shutil.copy(DOCUMENTS / "zen-of-python-google-docs.pdf", folder / "zen.pdf")
    (folder / "pump.md").write_text(
        "# Pump manual\n\nPrime the pump with **two litres** of water before starting it.\n"
    )
    results = cli.json("upload", str(folder), "--wait")
    assert all(r["media_type"] == "document" for r in results), results
    return {r["filename"]: r["image_id"] for r in results}


def test_text_prints_a_document_or_one_page_of_it(cli: Cli, documents: dict[str, str]) -> None:
    whole = cli.run("text", documents["pump.md"])
    assert whole.returncode == 0, whole.stderr
    assert "Prime the pump with two litres of water before starting it." in whole.stdout
    page = cli.json("text", documents["zen.pdf"], "--page", "1")
    assert page["page"] == 1 and "Beautiful is better than ugly." in page["text"]
    missing = cli.run("text", documents["zen.pdf"], "--page", "2")
    assert missing.returncode == 1 and missing.stdout == ""
    assert one_error_line(missing) == "error: NOT_FOUND: the document has no page 2 (it has 1)"


def test_text_of_an_image_is_one_error_line(cli: Cli, uploaded: list[dict[str, Any]]) -> None:
    done = cli.run("text", uploaded[0]["image_id"])
    assert done.returncode == 1
    assert one_error_line(done).startswith("error: WRONG_MEDIA_TYPE: ")


def test_search_chunks_finds_the_passage_and_its_page(cli: Cli, documents: dict[str, str]) -> None:
    sentence = "In the face of ambiguity, refuse the temptation to guess."
    found = cli.json("search", sentence, "--chunks", "--mode", "text", "--limit", "3")
    best = found["items"][0]
    assert (best["document_id"], best["document_filename"]) == (documents["zen.pdf"], "zen.pdf")
    assert best["page_numbers"] == [1] and 0 < best["score"] <= 1
    shown = cli.run("search", "priming a pump with water", "--chunks")
    assert shown.returncode == 0, shown.stderr
    assert "pump.md" in shown.stdout and "Prime the pump" in shown.stdout
    assert shown.stdout.strip().splitlines()[-1].endswith("passages")


def test_get_and_ls_show_a_documents_pages(cli: Cli, documents: dict[str, str]) -> None:
    details = cli.json("get", documents["zen.pdf"])
    assert (details["page_count"], details["document_type"]) == (1, "pdf")
    assert details["text_extraction_status"] == "completed" and details["chunk_count"] >= 1
    shown = cli.run("get", documents["zen.pdf"]).stdout
    assert "text extraction" in shown and "completed" in shown
    assert "Pages" in cli.run("ls", "--limit", "100").stdout


def test_client_commands_need_no_server_dependency(cli: Cli) -> None:
    block = f"import sys; sys.modules.update(dict.fromkeys({SERVER_ONLY!r}))"
    run = f"{block}; from scopix.cli import main; sys.argv[0] = 'scopix'; main()"
    listed = subprocess.run(
        [sys.executable, "-c", run, "ls", "--json"], capture_output=True, text=True, env=cli.env
    )
    assert listed.returncode == 0, listed.stderr
    assert "items" in json.loads(listed.stdout)
    serve = subprocess.run(
        [sys.executable, "-c", run, "serve"], capture_output=True, text=True, env=cli.env
    )
    assert serve.returncode == 1
    assert "pip install 'scopix[server]'" in one_error_line(serve)
