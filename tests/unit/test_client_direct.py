"""Direct uploads in the SDK: part plans, progress, part errors, and the flow against an
in-memory server (paging and fresh URLs need more parts than a real test can send)."""

from __future__ import annotations

import hashlib
import io
import json
import re
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scopix import ResourceNotFoundError, ScopixError, ScopixPermissionError, ServerError
from scopix import ValidationError as ScopixValidationError
from scopix.client import _direct
from scopix.client._direct import (
    DirectUpload,
    PartPlan,
    PartProgress,
    error_body,
    goes_direct,
    part_failure,
    start_body,
)
from scopix.client._forms import UploadOptions
from scopix.client._sources import one
from scopix.client._sync import SyncScopix
from scopix.types.events import UploadProgress

plans = st.integers(min_value=1, max_value=1 << 40).flatmap(
    lambda part_size: st.builds(
        PartPlan, st.integers(min_value=1, max_value=part_size * 300), st.just(part_size)
    )
)


@given(plans)
def test_parts_cover_the_file_exactly_once_in_order(plan: PartPlan) -> None:
    offset = 0
    for number in range(1, plan.count + 1):
        start, length = plan.span(number)
        assert start == offset
        assert 1 <= length <= plan.part_size
        offset += length
    assert offset == plan.size


@given(plans, st.data())
def test_missing_and_received_parts_split_the_file(plan: PartPlan, data: st.DataObject) -> None:
    numbers = st.integers(min_value=1, max_value=plan.count)
    received = data.draw(st.sets(numbers, max_size=50))
    missing = plan.missing(received)
    assert missing == sorted(missing)
    assert set(missing).isdisjoint(received)
    assert set(missing) | received == set(range(1, plan.count + 1))
    missing_bytes = sum(plan.span(n)[1] for n in missing)
    assert plan.received_bytes(received) + missing_bytes == plan.size


def test_a_single_part_upload_is_the_whole_file() -> None:
    plan = PartPlan(size=5, part_size=16)
    assert (plan.count, plan.span(1), plan.missing([])) == (1, (0, 5), [1])


def test_only_files_over_100_mib_go_direct(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not goes_direct(100 * 1024 * 1024)
    assert goes_direct(100 * 1024 * 1024 + 1)
    monkeypatch.setattr(_direct, "STREAMING_LIMIT", 10)
    assert goes_direct(11) and not goes_direct(10)


progress_steps = st.lists(
    st.tuples(
        st.sampled_from(["advance", "restart"]),
        st.integers(min_value=1, max_value=4),
        st.integers(min_value=0, max_value=1 << 20),
    ),
    max_size=60,
)


@given(held=st.integers(min_value=0, max_value=1 << 30), steps=progress_steps)
def test_progress_is_what_was_held_plus_each_part_current_attempt(
    held: int, steps: list[tuple[str, int, int]]
) -> None:
    progress = PartProgress(held)
    reported = held
    in_flight: dict[int, int] = {}
    for action, part, count in steps:
        if action == "advance":
            reported += progress.advance(part, count)
            in_flight[part] = in_flight.get(part, 0) + count
        else:
            change = progress.restart(part)
            assert change == -in_flight.pop(part, 0)
            reported += change
        assert progress.sent == reported == held + sum(in_flight.values())


def test_a_storage_403_may_be_an_expired_url() -> None:
    xml = (
        b'<?xml version="1.0"?><Error><Code>AccessDenied</Code>'
        b"<Message>Request has expired</Message></Error>"
    )
    failure = part_failure(403, {"x-amz-request-id": "s3-1"}, xml)
    assert failure.expired and not failure.retryable
    assert isinstance(failure.error, ScopixPermissionError)
    assert (failure.error.code, failure.error.message) == ("ACCESS_DENIED", "Request has expired")
    assert failure.error.details == {"storage_code": "AccessDenied"}
    assert failure.error.request_id == "s3-1"


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_transient_part_failures_are_retried(status: int) -> None:
    failure = part_failure(status, {"Retry-After": "2"}, b"<Error><Code>SlowDown</Code></Error>")
    assert failure.retryable and not failure.expired
    assert failure.retry_after == 2


def test_part_refusals_keep_their_meaning() -> None:
    gone = part_failure(404, {}, b"<Error><Code>NoSuchUpload</Code></Error>")
    assert isinstance(gone.error, ResourceNotFoundError)
    assert (gone.error.code, gone.retryable) == ("NO_SUCH_UPLOAD", False)
    envelope = {"error": {"code": "PART_SIZE_MISMATCH", "message": "short", "details": {}}}
    short = part_failure(422, {}, json.dumps(envelope).encode())
    assert isinstance(short.error, ScopixValidationError)
    assert short.error.code == "PART_SIZE_MISMATCH"
    closed = part_failure(409, {}, b'{"error": {"code": "UPLOAD_NOT_ACTIVE", "message": "x"}}')
    assert (closed.error.code, closed.retryable) == ("UPLOAD_NOT_ACTIVE", False)


@given(st.binary(max_size=200))
def test_any_error_body_gives_an_error(body: bytes) -> None:
    assert isinstance(part_failure(500, {}, body).error, ServerError)
    error_body(body)


def test_a_start_answer_is_read() -> None:
    upload = DirectUpload.from_dict(
        {
            "upload_id": "du_1",
            "state": "active",
            "method": "multipart",
            "size_bytes": 40,
            "part_size": 16,
            "part_count": 3,
            "parts": [{"part_number": 2, "size": 16, "etag": "e"}],
            "part_urls": [{"part_number": 1, "url": "http://s/1", "method": "PUT"}],
            "next_part": 3,
            "resumed": True,
            "deduplicated": False,
            "result": None,
        }
    )
    assert (upload.upload_id, upload.received, upload.next_part) == ("du_1", frozenset({2}), 3)
    assert [(p.number, p.url) for p in upload.part_urls] == [(1, "http://s/1")]
    assert upload.held_bytes == 16


def test_a_deduplicated_answer_holds_every_byte() -> None:
    upload = DirectUpload.from_dict(
        {
            "upload_id": None,
            "size_bytes": 40,
            "deduplicated": True,
            "result": {"image_id": "f1", "filename": "a.mp4", "description_status": "skipped"},
        }
    )
    assert upload.held_bytes == 40
    assert upload.result is not None and upload.result.image_id == "f1"


def test_the_start_body_carries_the_options() -> None:
    source = one(b"x" * 5)
    options = UploadOptions(title=None, tags=["a", "b"], skip_duplicates=True)
    body = start_body(source, "ab" * 32, options)
    assert body == {
        "filename": "upload",
        "size_bytes": 5,
        "sha256": "ab" * 32,
        "auto_describe": True,
        "skip_duplicates": True,
        "content_category": "general",
        "tags": ["a", "b"],
    }


class FakeDirectServer:
    """The direct-upload routes in memory. A part URL names the answer that handed it out,
    so a test can make the URLs of the first answers expired."""

    def __init__(self, part_size: int, urls_per_answer: int, expired_answers: int = 0) -> None:
        self.part_size = part_size
        self.urls_per_answer = urls_per_answer
        self.expired_answers = expired_answers
        self.parts: dict[int, bytes] = {}
        self.size = 0
        self.answers = 0
        self.puts: list[int] = []
        self.fail_next: list[int] = []  # statuses the next part PUTs answer with

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "PUT":
            return self._put(request)
        if path.endswith("/complete"):
            data = b"".join(self.parts[n] for n in sorted(self.parts))
            body = {"image_id": "f1", "filename": "big.bin", "object_key": _sha(data)}
            return httpx.Response(201, json=body)
        if request.method == "POST":
            self.size = json.loads(request.content)["size_bytes"]
            return httpx.Response(201, json=self._answer(1))
        return httpx.Response(200, json=self._answer(int(request.url.params["first_part"])))

    def _put(self, request: httpx.Request) -> httpx.Response:
        number, answer = (int(g) for g in re.findall(r"\d+", request.url.path)[-2:])
        assert "authorization" not in request.headers
        assert "idempotency-key" not in request.headers
        body = request.read()
        assert len(body) == int(request.headers["content-length"])
        self.puts.append(number)
        if answer <= self.expired_answers:
            return httpx.Response(403, content=b"<Error><Code>AccessDenied</Code></Error>")
        if self.fail_next:
            return httpx.Response(self.fail_next.pop(0), content=b"busy")
        self.parts[number] = body
        return httpx.Response(200, headers={"ETag": f'"{number}"'})

    def _answer(self, first: int) -> dict[str, Any]:
        plan = PartPlan(self.size, self.part_size)
        missing = [n for n in plan.missing(self.parts) if n >= first]
        listed = missing[: self.urls_per_answer]
        more = missing[self.urls_per_answer :]
        self.answers += 1
        return {
            "upload_id": "du_1",
            "size_bytes": self.size,
            "part_size": self.part_size,
            "parts": [
                {"part_number": n, "size": len(b), "etag": "e"} for n, b in self.parts.items()
            ],
            "part_urls": [
                {"part_number": n, "url": f"http://storage/p/{n}/{self.answers}"} for n in listed
            ],
            "next_part": more[0] if more else None,
            "deduplicated": False,
        }


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sync_client(server: FakeDirectServer) -> SyncScopix:
    http = httpx.AsyncClient(
        transport=httpx.MockTransport(server.handle),
        base_url="http://api/api/v2/",
        headers={"Authorization": "Bearer leaks-if-not-removed"},
    )
    return SyncScopix(api_key="k", base_url="http://api/api/v2", retry_delay=0, http_client=http)


@pytest.fixture
def small_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_direct, "STREAMING_LIMIT", 10)
    monkeypatch.setattr(_direct, "CHUNK", 7)


@pytest.mark.usefixtures("small_limit")
def test_parts_are_paged_retried_and_refreshed() -> None:
    data = bytes(range(256)) * 2
    server = FakeDirectServer(part_size=50, urls_per_answer=3)
    server.fail_next = [503]
    events: list[UploadProgress] = []
    with sync_client(server) as client:
        result = client.files.upload(
            io.BytesIO(data), wait_for_descriptions=False, on_progress=events.append
        )
    assert result.object_key == _sha(data)
    assert sorted(server.parts) == list(range(1, 12))
    assert len(server.puts) == 12  # one part sent twice, after the 503
    assert events[-1] == UploadProgress(1, 1, len(data), len(data))
    assert max(e.bytes_sent for e in events) == len(data)


@pytest.mark.usefixtures("small_limit")
def test_an_expired_url_is_replaced_once_then_the_refusal_stands() -> None:
    data = b"z" * 120
    server = FakeDirectServer(part_size=50, urls_per_answer=500, expired_answers=1)
    with sync_client(server) as client:
        result = client.files.upload(data, wait_for_descriptions=False)
    assert result.object_key == _sha(data)
    assert len(server.puts) == 2 * 3

    server = FakeDirectServer(part_size=50, urls_per_answer=500, expired_answers=1000)
    with sync_client(server) as client, pytest.raises(ScopixPermissionError):
        client.files.upload(data, wait_for_descriptions=False)
    assert len(server.puts) <= 2 * 3


@pytest.mark.usefixtures("small_limit")
def test_a_part_that_keeps_failing_raises_after_the_retries() -> None:
    server = FakeDirectServer(part_size=50, urls_per_answer=500)
    server.fail_next = [500] * 100
    with sync_client(server) as client, pytest.raises(ScopixError) as caught:
        client.files.upload(b"q" * 60, wait_for_descriptions=False)
    assert caught.value.status_code == 500
