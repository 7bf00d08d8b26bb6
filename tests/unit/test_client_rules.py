"""SDK rules with no I/O: retry decisions, backoff, request planning, options, parsing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scopix.client._batch import plan_requests
from scopix.client._options import ClientOptions, from_environment
from scopix.client._retry import MAX_DELAY_S, backoff_delay, should_retry
from scopix.errors import AuthenticationError, ValidationError
from scopix.types.describe import DescriptionStatus
from scopix.types.files import FileDetails, FileList, ProcessingStatus
from scopix.types.quota import UsageCheck


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_transient_statuses_are_retried(status: int) -> None:
    assert should_retry(status, {})


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 422])
def test_client_errors_are_not_retried(status: int) -> None:
    assert not should_retry(status, {"Retry-After": "1"})


def test_a_conflict_is_retried_only_when_it_is_a_lock() -> None:
    assert should_retry(409, {"Retry-After": "3"})
    assert should_retry(409, {"retry-after": "3"})
    assert not should_retry(409, {})


@given(
    attempt=st.integers(min_value=0, max_value=50),
    base=st.floats(min_value=0, max_value=10),
    jitter=st.floats(min_value=0, max_value=1),
)
def test_backoff_grows_within_bounds(attempt: int, base: float, jitter: float) -> None:
    delay = backoff_delay(attempt, base, jitter=lambda: jitter)
    ceiling = min(base * 2.0**attempt, MAX_DELAY_S)
    assert ceiling / 2 <= delay <= ceiling


@given(st.floats(min_value=0, max_value=1e9, allow_nan=False))
def test_retry_after_wins_but_is_capped(retry_after: float) -> None:
    assert backoff_delay(0, 1.0, retry_after) == min(retry_after, MAX_DELAY_S)


@given(
    sizes=st.lists(st.integers(min_value=0, max_value=1000), max_size=300),
    max_files=st.integers(min_value=1, max_value=50),
    max_bytes=st.integers(min_value=1, max_value=5000),
)
def test_request_plan_covers_every_file_once_in_order(
    sizes: list[int], max_files: int, max_bytes: int
) -> None:
    groups = plan_requests(sizes, max_files, max_bytes)
    assert [p for g in groups for p in g] == list(range(len(sizes)))
    for group in groups:
        assert 1 <= len(group) <= max_files
        assert len(group) == 1 or sum(sizes[p] for p in group) <= max_bytes


def test_request_plan_sends_an_oversized_file_alone() -> None:
    assert plan_requests([1, 100, 1, 1], 10, 50) == [[0], [1], [2, 3]]


def test_environment_overrides_and_conversion() -> None:
    env = {"SCOPIX_API_KEY": "k", "SCOPIX_TIMEOUT": "12.5", "SCOPIX_MAX_RETRIES": "7"}
    assert from_environment(env, {"max_retries": 1}) == {
        "api_key": "k",
        "timeout": 12.5,
        "max_retries": 1,
    }
    with pytest.raises(ValidationError, match="SCOPIX_TIMEOUT"):
        from_environment({"SCOPIX_TIMEOUT": "soon"}, {})


def test_options_need_a_key_and_sane_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCOPIX_API_KEY", raising=False)
    with pytest.raises(AuthenticationError):
        ClientOptions.resolve(None, None)
    with pytest.raises(ValidationError):
        ClientOptions.resolve("k", "ftp://host")
    with pytest.raises(ValidationError):
        ClientOptions.resolve("k", None, timeout=0)
    options = ClientOptions.resolve("k", "http://h:1/api/v2")
    assert options.base_url == "http://h:1/api/v2/"


@given(extra=st.dictionaries(st.text(min_size=1).filter(str.isidentifier), st.integers()))
def test_file_details_ignore_fields_they_do_not_know(extra: dict[str, int]) -> None:
    data = {**extra, "id": "f1", "filename": "a.jpg", "description_status": "COMPLETED"}
    details = FileDetails.from_dict(data)
    assert details.id == "f1"
    assert details.description_status is DescriptionStatus.COMPLETED
    assert details.to_upload_result().image_id == "f1"


def test_pages_statuses_and_usage_parse() -> None:
    page = FileList.from_dict(
        {"items": [{"id": "a", "filename": "x", "tags": ["t"]}], "total_count": 3, "has_more": True}
    )
    assert (page.items[0].tags, page.total_count, page.has_more) == (["t"], 3, True)
    status = ProcessingStatus.from_dict(
        {"image_id": "a", "status": "completed", "description_status": "processing", "new": 1}
    )
    assert not status.is_description_final
    assert ProcessingStatus.from_dict({"image_id": "a", "description_status": "pending"})
    usage = UsageCheck.from_dict({"can_proceed": False, "available_credits": 0, "x": 1})
    assert usage == UsageCheck(False, 0, None)
