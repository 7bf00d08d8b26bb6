"""A real S3 API for tests: moto's standalone server, in its own process (never in-process mocks).

    async def test_something(s3_storage: S3Storage, tmp_path: Path) -> None:
        store = S3BlobStore(S3Location.parse(s3_storage.url), tmp_path / "staging")
        subprocess.Popen([...], env=os.environ | s3_storage.env)  # a server process, too

One server runs for the whole session; every test gets a bucket of its own. Note that moto checks
neither the signature nor the expiry of presigned URLs: tests of those belong to local storage.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3  # type: ignore[import-untyped]
import httpx
import pytest

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
STARTUP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class S3Storage:
    """A fresh bucket on the moto server, and how to reach it."""

    #: The storage URL (`s3://bucket/prefix?endpoint=...&region=us-east-1`).
    url: str
    #: What a server subprocess needs in its environment to sign requests.
    env: dict[str, str]
    endpoint: str
    bucket: str
    prefix: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_answering(process: subprocess.Popen[bytes], endpoint: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"moto_server exited with {process.returncode}:\n{log.read_text()}")
        try:
            httpx.get(endpoint, timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    pytest.fail(f"moto_server did not answer within {STARTUP_TIMEOUT_S} s:\n{log.read_text()}")


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a moto S3 server that lives as long as the test session."""
    executable = Path(sys.executable).parent / "moto_server"
    if not executable.exists():
        pytest.fail(f"{executable} is missing: install the dev extra (moto[server])")
    port = _free_port()
    log = tmp_path_factory.mktemp("moto") / "moto_server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(executable), "-H", "127.0.0.1", "-p", str(port)],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        _wait_until_answering(process, endpoint, log)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def s3_storage(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> S3Storage:
    """A new, empty bucket; the AWS variables are set for this test (and given in `.env`)."""
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    # Nothing from the developer's own AWS setup may leak in.
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    bucket, prefix = f"scopix-test-{uuid.uuid4().hex[:12]}", "blobs"
    client = boto3.session.Session().client(
        "s3", endpoint_url=moto_endpoint, region_name=CREDENTIALS["AWS_DEFAULT_REGION"]
    )
    client.create_bucket(Bucket=bucket)
    url = f"s3://{bucket}/{prefix}?endpoint={moto_endpoint}&region=us-east-1"
    return S3Storage(url, dict(CREDENTIALS), moto_endpoint, bucket, prefix)
