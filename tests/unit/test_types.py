"""The SDK's public types match the published seed contract and behave as documented."""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, get_type_hints

import pytest
from hypothesis import given
from hypothesis import strategies as st

import scopix
from scopix import (
    BatchUploadResults,
    DescriptionError,
    DescriptionErrorType,
    DescriptionFailure,
    DescriptionResult,
    DescriptionStatus,
    QuotaInfo,
    UploadResult,
)
from scopix.types import describe as describe_module
from scopix.types import upload as upload_module

MISSING = dataclasses.MISSING
S = DescriptionStatus
T = DescriptionErrorType

# --- the seed contract, written out literally: (name, type, default) in order -------------

UPLOAD_RESULT_FIELDS: list[tuple[str, Any, Any]] = [
    ("image_id", str, MISSING),
    ("filename", str, MISSING),
    ("description", str | None, None),
    ("tags", list[str] | None, None),
    ("visible_text", str | None, None),
    ("text_regions", list[dict[str, Any]] | None, None),
    ("confidence_score", float | None, None),
    ("description_status", DescriptionStatus, DescriptionStatus.PENDING),
    ("thumbnail_url", str | None, None),
    ("created_at", datetime | None, None),
    ("description_error", str | None, None),
    ("description_error_type", str | None, None),
    ("description_is_retryable", bool | None, None),
    ("deduplicated", bool | None, None),
    ("media_type", str | None, None),
    ("status", str | None, None),
    ("object_key", str | None, None),
]

QUOTA_INFO_FIELDS: list[tuple[str, Any, Any]] = [
    ("can_proceed", bool, MISSING),
    ("requested", int, MISSING),
    ("available", int, MISSING),
    ("monthly_limit", int, MISSING),
    ("current_usage", int, MISSING),
    ("message", str | None, None),
    ("max_batch_size", int | None, None),
    ("prepaid_credits", int, 0),
    ("max_concurrent_uploads", int | None, None),
    # extras after the seed's fields: the storage quota
    ("storage_used_bytes", int | None, None),
    ("storage_limit_bytes", int | None, None),
    ("storage_available_bytes", int | None, None),
]

DESCRIPTION_RESULT_FIELDS: list[tuple[str, Any, Any]] = [
    ("operation_id", str, MISSING),
    ("description", str, MISSING),
    ("confidence_score", float | None, None),
    ("key_elements", list[str] | None, None),
    ("tags", list[str] | None, None),
    ("visible_text", str | None, None),
    ("text_regions", list[dict[str, Any]] | None, None),
    ("analysis_level", str, "standard"),
    ("provider_count", int, 1),
    ("processing_time_ms", int, 0),
    ("metadata", dict[str, Any] | None, None),
]

DESCRIPTION_FAILURE_FIELDS: list[tuple[str, Any, Any]] = [
    ("image_id", str, MISSING),
    ("error_message", str, MISSING),
    ("error_type", DescriptionErrorType, MISSING),
    ("is_retryable", bool, MISSING),
    ("filename", str | None, None),
    ("raw_error", str | None, None),
]

CONTRACT = [
    pytest.param(UploadResult, UPLOAD_RESULT_FIELDS, id="UploadResult"),
    pytest.param(QuotaInfo, QUOTA_INFO_FIELDS, id="QuotaInfo"),
    pytest.param(DescriptionResult, DESCRIPTION_RESULT_FIELDS, id="DescriptionResult"),
    pytest.param(DescriptionFailure, DESCRIPTION_FAILURE_FIELDS, id="DescriptionFailure"),
]


@pytest.mark.parametrize(("cls", "expected"), CONTRACT)
def test_dataclass_fields_order_and_defaults_match_seed(cls: type, expected: list[Any]) -> None:
    fields = dataclasses.fields(cls)
    assert [(f.name, f.default) for f in fields] == [(name, dflt) for name, _, dflt in expected]
    assert all(f.default_factory is MISSING for f in fields)


@pytest.mark.parametrize(("cls", "expected"), CONTRACT)
def test_dataclass_field_types_match_seed(cls: type, expected: list[Any]) -> None:
    hints = get_type_hints(cls)
    assert [(f.name, hints[f.name]) for f in dataclasses.fields(cls)] == [
        (name, typ) for name, typ, _ in expected
    ]


@pytest.mark.parametrize(("cls", "expected"), CONTRACT)
def test_dataclasses_are_frozen(cls: type, expected: list[Any]) -> None:
    params = cls.__dataclass_params__  # type: ignore[attr-defined]
    assert params.frozen and params.eq
    required = {name: _sample(typ) for name, typ, dflt in expected if dflt is MISSING}
    instance = cls(**required)
    with pytest.raises(dataclasses.FrozenInstanceError):
        instance.some_field = 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(instance, expected[0][0], _sample(expected[0][1]))


def _sample(typ: Any) -> Any:
    samples = {str: "x", int: 1, bool: True, DescriptionErrorType: T.UNKNOWN}
    return samples[typ]


def test_description_status_enum_matches_seed() -> None:
    assert issubclass(DescriptionStatus, str)
    assert [(m.name, m.value) for m in DescriptionStatus] == [
        ("PENDING", "pending"),
        ("QUEUED", "queued"),
        ("PROCESSING", "processing"),
        ("COMPLETED", "completed"),
        ("FAILED", "failed"),
        ("SKIPPED", "skipped"),
    ]
    assert DescriptionStatus("completed") is S.COMPLETED
    assert S.FAILED == "failed"


def test_description_error_type_enum_matches_seed() -> None:
    assert issubclass(DescriptionErrorType, str)
    assert [(m.name, m.value) for m in DescriptionErrorType] == [
        ("TIMEOUT", "timeout"),
        ("RATE_LIMIT", "rate_limit"),
        ("VLM_ERROR", "vlm_error"),
        ("VALIDATION_ERROR", "validation"),
        ("RESOURCE_LIMIT", "resource_limit"),
        ("UNKNOWN", "unknown"),
    ]


def test_seed_methods_have_the_published_kinds() -> None:
    assert isinstance(DescriptionFailure.__dict__["classify_error"], staticmethod)
    assert isinstance(DescriptionFailure.__dict__["from_error_message"], classmethod)
    assert isinstance(UploadResult.__dict__["from_dict"], classmethod)
    for name in ("is_failed", "is_completed", "is_pending"):
        assert isinstance(UploadResult.__dict__[name], property)
    for name in ("has_failures", "failed_count", "succeeded_count", "pending_count"):
        assert isinstance(BatchUploadResults.__dict__[name], property)
    assert issubclass(BatchUploadResults, list)


# --- imports and the public surface -------------------------------------------------------


def test_names_import_from_every_documented_place() -> None:
    from scopix.types import BatchUploadResults as TypesBatch
    from scopix.types.describe import (
        DescriptionErrorType as DType,
    )
    from scopix.types.describe import (
        DescriptionFailure as DFailure,
    )
    from scopix.types.describe import (
        DescriptionResult as DResult,
    )
    from scopix.types.describe import (
        DescriptionStatus as DStatus,
    )
    from scopix.types.upload import BatchUploadResults as UBatch
    from scopix.types.upload import QuotaInfo as UQuota
    from scopix.types.upload import UploadResult as UResult

    assert (UResult, UBatch, UQuota, TypesBatch) == (
        UploadResult,
        BatchUploadResults,
        QuotaInfo,
        BatchUploadResults,
    )
    assert (DStatus, DType, DFailure, DResult) == (
        DescriptionStatus,
        DescriptionErrorType,
        DescriptionFailure,
        DescriptionResult,
    )


def test_package_all_is_sorted_and_complete() -> None:
    assert scopix.__all__ == sorted(scopix.__all__)
    assert len(set(scopix.__all__)) == len(scopix.__all__)
    for name in scopix.__all__:
        assert hasattr(scopix, name), name
    expected_types = {
        "BatchUploadResults",
        "DescriptionErrorType",
        "DescriptionFailure",
        "DescriptionResult",
        "DescriptionStatus",
        "QuotaInfo",
        "UploadResult",
    }
    assert expected_types <= set(scopix.__all__)
    assert set(scopix.types.__all__) == expected_types
    assert scopix.__version__ == "0.1.0"


@pytest.mark.parametrize("module", [scopix, scopix.types, describe_module, upload_module])
def test_public_names_have_docstrings(module: Any) -> None:
    for name in module.__all__:
        obj = getattr(module, name)
        if isinstance(obj, str):
            continue
        assert (obj.__doc__ or "").strip(), name


def test_import_stays_light() -> None:
    code = (
        "import sys, scopix; "
        "heavy = [m for m in sys.modules if m == 'httpx' or m.startswith('scopix.server')]; "
        "print(heavy)"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip() == "[]"


# --- UploadResult ------------------------------------------------------------------------


def _result(status: DescriptionStatus = S.COMPLETED, **kwargs: Any) -> UploadResult:
    kwargs.setdefault("image_id", "img_1")
    kwargs.setdefault("filename", "a.jpg")
    return UploadResult(description_status=status, **kwargs)


@pytest.mark.parametrize(
    ("status", "failed", "completed", "pending"),
    [
        (S.PENDING, False, False, True),
        (S.QUEUED, False, False, True),
        (S.PROCESSING, False, False, True),
        (S.COMPLETED, False, True, False),
        (S.FAILED, True, False, False),
        (S.SKIPPED, False, False, False),
    ],
)
def test_status_properties(
    status: DescriptionStatus, failed: bool, completed: bool, pending: bool
) -> None:
    result = _result(status)
    assert (result.is_failed, result.is_completed, result.is_pending) == (
        failed,
        completed,
        pending,
    )


def test_default_status_is_pending() -> None:
    assert UploadResult(image_id="i", filename="f").description_status is S.PENDING


_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10)
)
_regions = st.lists(st.dictionaries(st.text(max_size=6), _json_scalars, max_size=4), max_size=3)
_offsets = st.timedeltas(
    min_value=-timedelta(hours=23, minutes=59), max_value=timedelta(hours=23, minutes=59)
)
_tz = st.none() | st.just(UTC) | st.builds(timezone, _offsets)
_opt_text = st.none() | st.text(max_size=20)
_opt_bool = st.none() | st.booleans()

upload_results = st.builds(
    UploadResult,
    image_id=st.text(max_size=20),
    filename=st.text(max_size=20),
    description=_opt_text,
    tags=st.none() | st.lists(st.text(max_size=8), max_size=4),
    visible_text=_opt_text,
    text_regions=st.none() | _regions,
    confidence_score=st.none() | st.floats(allow_nan=False),
    description_status=st.sampled_from(DescriptionStatus),
    thumbnail_url=_opt_text,
    created_at=st.none() | st.datetimes(timezones=_tz),
    description_error=_opt_text,
    description_error_type=st.none() | st.sampled_from([t.value for t in T]) | st.text(),
    description_is_retryable=_opt_bool,
    deduplicated=_opt_bool,
    media_type=st.none() | st.sampled_from(["image", "document", "video", "link"]),
    status=st.none() | st.sampled_from(["processing", "completed", "skipped"]),
    object_key=_opt_text,
)


@given(upload_results, st.booleans())
def test_to_dict_from_dict_round_trip(result: UploadResult, exclude_none: bool) -> None:
    data = result.to_dict(exclude_none=exclude_none)
    assert UploadResult.from_dict(data) == result
    assert UploadResult.from_dict(json.loads(json.dumps(data))) == result


@given(upload_results)
def test_exclude_none_drops_exactly_the_none_fields(result: UploadResult) -> None:
    full = result.to_dict(exclude_none=False)
    trimmed = result.to_dict()
    names = [f.name for f in dataclasses.fields(UploadResult)]
    assert list(full) == names
    nones = {name for name in names if getattr(result, name) is None}
    assert set(full) - set(trimmed) == nones
    assert trimmed == {k: v for k, v in full.items() if k not in nones}
    assert all(full[name] is None for name in nones)


@given(upload_results)
def test_to_dict_is_json_ready(result: UploadResult) -> None:
    data = result.to_dict()
    assert type(data["description_status"]) is str
    assert data["description_status"] == result.description_status.value
    if result.created_at is not None:
        assert data["created_at"] == result.created_at.isoformat()
    json.dumps(data)


def test_to_dict_copies_lists() -> None:
    result = _result(tags=["a"], text_regions=[{"text": "x"}])
    data = result.to_dict()
    data["tags"].append("b")
    data["text_regions"][0]["text"] = "y"
    assert result.tags == ["a"]
    assert result.text_regions == [{"text": "x"}]


def test_from_dict_parses_server_json() -> None:
    result = UploadResult.from_dict(
        {
            "image_id": "0191-abc",
            "filename": "cat.png",
            "description_status": "completed",
            "created_at": "2024-05-01T10:00:00Z",
            "tags": ["cat"],
            "session_id": "s1",
            "something_new": {"x": 1},
        }
    )
    assert result == UploadResult(
        image_id="0191-abc",
        filename="cat.png",
        description_status=S.COMPLETED,
        created_at=datetime(2024, 5, 1, 10, tzinfo=UTC),
        tags=["cat"],
    )


def test_from_dict_defaults_and_fallbacks() -> None:
    assert UploadResult.from_dict({"id": "i1"}) == UploadResult(image_id="i1", filename="")
    both = UploadResult.from_dict({"image_id": "a", "id": "b", "filename": "f"})
    assert both.image_id == "a"
    nulls = UploadResult.from_dict(
        {"image_id": "a", "filename": None, "description_status": None, "created_at": None}
    )
    assert nulls == UploadResult(image_id="a", filename="")
    assert UploadResult.from_dict({"image_id": "a", "description_status": "FAILED"}).is_failed


@pytest.mark.parametrize(
    "data",
    [
        {"filename": "no id"},
        {"image_id": None, "filename": "f"},
        {"image_id": "a", "description_status": "exploded"},
        {"image_id": "a", "created_at": "yesterday"},
        {"image_id": "a", "created_at": 12},
    ],
)
def test_from_dict_rejects_what_it_cannot_read(data: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        UploadResult.from_dict(data)


def test_upload_result_pickles() -> None:
    result = _result(created_at=datetime(2024, 1, 1, tzinfo=UTC), tags=["a"])
    assert pickle.loads(pickle.dumps(result)) == result


# --- BatchUploadResults ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([], "0 succeeded"),
        ([S.COMPLETED] * 3, "3 succeeded"),
        ([S.COMPLETED] * 3 + [(S.FAILED, True)], "3 succeeded, 1 failed (1 retryable)"),
        ([S.COMPLETED, (S.FAILED, False)], "1 succeeded, 1 failed (0 retryable)"),
        ([S.COMPLETED] * 3 + [S.QUEUED, S.PROCESSING], "3 succeeded, 2 pending"),
        (
            [S.SKIPPED, (S.FAILED, None), (S.FAILED, True), S.PENDING],
            "1 succeeded, 2 failed (1 retryable), 1 pending",
        ),
    ],
)
def test_summary_format(statuses: list[Any], expected: str) -> None:
    assert _batch(statuses).summary() == expected


def _batch(statuses: list[Any]) -> BatchUploadResults:
    results = []
    for i, item in enumerate(statuses):
        status, retryable = item if isinstance(item, tuple) else (item, None)
        results.append(_result(status, image_id=f"img_{i}", description_is_retryable=retryable))
    return BatchUploadResults(results)


_SUMMARY = re.compile(r"(\d+) succeeded(?:, (\d+) failed \((\d+) retryable\))?(?:, (\d+) pending)?")


@given(st.lists(upload_results, max_size=12))
def test_batch_counts_add_up(results: list[UploadResult]) -> None:
    batch = BatchUploadResults(results)
    assert batch.succeeded_count + batch.failed_count + batch.pending_count == len(batch)
    assert batch.failed_count == len(batch.failed()) == sum(r.is_failed for r in results)
    assert batch.pending_count == len(batch.pending()) == sum(r.is_pending for r in results)
    assert batch.has_failures == (batch.failed_count > 0)
    assert all(r.is_failed and r.description_is_retryable for r in batch.retryable())
    match = _SUMMARY.fullmatch(batch.summary())
    assert match is not None, batch.summary()
    succeeded, failed, retryable, pending = (int(g) if g else 0 for g in match.groups())
    assert (succeeded, failed, retryable, pending) == (
        batch.succeeded_count,
        batch.failed_count,
        len(batch.retryable()),
        batch.pending_count,
    )
    assert (match.group(2) is not None) == batch.has_failures
    assert (match.group(4) is not None) == (batch.pending_count > 0)


@given(st.lists(upload_results, max_size=12))
def test_raise_on_failures_iff_has_failures(results: list[UploadResult]) -> None:
    batch = BatchUploadResults(results)
    if not batch.has_failures:
        assert batch.raise_on_failures() is batch
        return
    with pytest.raises(DescriptionError) as info:
        batch.raise_on_failures()
    failures = info.value.failures
    assert [f.image_id for f in failures] == [r.image_id for r in batch.failed()]
    assert all(isinstance(f, DescriptionFailure) for f in failures)
    message = str(info.value)
    for failure in failures:
        assert failure.image_id in message
        assert failure.error_message in message
        assert failure.filename is None or failure.filename in message


def test_raise_on_failures_builds_classified_failures() -> None:
    batch = BatchUploadResults(
        [
            _result(S.COMPLETED, image_id="ok"),
            _result(
                S.FAILED,
                image_id="i1",
                filename="a.jpg",
                description_error="Request timed out after 30s",
            ),
            _result(
                S.FAILED,
                image_id="i2",
                filename="",
                description_error="weird",
                description_error_type="resource_limit",
                description_is_retryable=False,
            ),
            _result(S.FAILED, image_id="i3", filename="c.png", description_error_type="bogus"),
        ]
    )
    with pytest.raises(DescriptionError) as info:
        batch.raise_on_failures()
    assert info.value.failures == [
        DescriptionFailure(
            "i1",
            "Request timed out after 30s",
            T.TIMEOUT,
            True,
            "a.jpg",
            "Request timed out after 30s",
        ),
        DescriptionFailure("i2", "weird", T.RESOURCE_LIMIT, False, None, "weird"),
        DescriptionFailure("i3", "description failed", T.UNKNOWN, False, "c.png", None),
    ]
    assert info.value.code == "DESCRIPTION_FAILED"
    assert "a.jpg (i1): Request timed out after 30s" in str(info.value)
    assert "- i2: weird" in str(info.value)


def test_batch_is_a_list_and_methods_return_lists() -> None:
    batch = _batch([S.COMPLETED, (S.FAILED, True), S.QUEUED])
    assert isinstance(batch, list)
    assert len(batch) == 3
    assert [r.image_id for r in batch.succeeded()] == ["img_0"]
    assert [r.image_id for r in batch.failed()] == ["img_1"]
    assert [r.image_id for r in batch.retryable()] == ["img_1"]
    assert [r.image_id for r in batch.pending()] == ["img_2"]
    for method in (batch.failed, batch.succeeded, batch.pending, batch.retryable):
        assert type(method()) is list
    assert pickle.loads(pickle.dumps(batch)) == batch


# --- QuotaInfo ---------------------------------------------------------------------------


def test_quota_info_from_dict() -> None:
    data = {
        "can_proceed": True,
        "requested": 5,
        "available": 7,
        "monthly_limit": 10,
        "current_usage": 3,
        "message": "ok",
        "max_batch_size": 10,
        "prepaid_credits": 0,
        "max_concurrent_uploads": 10,
        "tier": "free",
    }
    assert QuotaInfo.from_dict(data) == QuotaInfo(True, 5, 7, 10, 3, "ok", 10, 0, 10)
    minimal = {k: data[k] for k in list(data)[:5]}
    assert QuotaInfo.from_dict({**minimal, "prepaid_credits": None}) == QuotaInfo(True, 5, 7, 10, 3)


def test_quota_info_reads_the_storage_extras() -> None:
    data = {"can_proceed": True, "requested": 1, "available": 7, "monthly_limit": 10}
    data |= {"current_usage": 3, "storage_used_bytes": 2048, "storage_limit_bytes": None}
    info = QuotaInfo.from_dict(data)
    assert (info.storage_used_bytes, info.storage_limit_bytes) == (2048, None)
    assert info.storage_available_bytes is None


@pytest.mark.parametrize("missing", ["can_proceed", "requested", "current_usage"])
def test_quota_info_requires_leading_fields(missing: str) -> None:
    data = dict.fromkeys(["requested", "available", "monthly_limit", "current_usage"], 1)
    data["can_proceed"] = 1
    del data[missing]
    with pytest.raises(ValueError, match=missing):
        QuotaInfo.from_dict(data)


# --- DescriptionFailure.classify_error ---------------------------------------------------

RETRYABLE = {T.TIMEOUT, T.RATE_LIMIT, T.VLM_ERROR}
PRECEDENCE = [T.RATE_LIMIT, T.TIMEOUT, T.RESOURCE_LIMIT, T.VALIDATION_ERROR, T.VLM_ERROR]

CLASSIFY_TABLE = [
    ("Request timed out after 30s", T.TIMEOUT),
    ("ReadTimeout: upstream", T.TIMEOUT),
    ("DEADLINE EXCEEDED while waiting", T.TIMEOUT),
    ("HTTP 429 Too Many Requests", T.RATE_LIMIT),
    ("rate limit exceeded", T.RATE_LIMIT),
    ("provider returned 503", T.VLM_ERROR),
    ("HTTP 500 Internal Server Error", T.VLM_ERROR),
    ("502 Bad Gateway", T.VLM_ERROR),
    ("Service Unavailable", T.VLM_ERROR),
    ("invalid JSON output from model", T.VLM_ERROR),
    ("invalid response", T.VLM_ERROR),
    ("malformed completion", T.VLM_ERROR),
    ("VLM crashed", T.VLM_ERROR),
    ("Validation failed: image too small", T.VALIDATION_ERROR),
    ("invalid input", T.VALIDATION_ERROR),
    ("Invalid PNG file", T.VALIDATION_ERROR),
    ("Unsupported media type", T.VALIDATION_ERROR),
    ("corrupted header", T.VALIDATION_ERROR),
    ("Monthly quota exceeded", T.RESOURCE_LIMIT),
    ("insufficient credits", T.RESOURCE_LIMIT),
    ("Image too large to describe", T.RESOURCE_LIMIT),
    ("resource limit hit", T.RESOURCE_LIMIT),
    ("something odd", T.UNKNOWN),
    ("", T.UNKNOWN),
    ("order 1429 shipped", T.UNKNOWN),
    ("error 5030 in module", T.UNKNOWN),
    ("at the same time outputs went missing", T.UNKNOWN),
    # precedence between categories
    ("429: rate limit exceeded after timeout", T.RATE_LIMIT),
    ("timeout: quota check did not answer", T.TIMEOUT),
    ("provider error: unsupported image format", T.VALIDATION_ERROR),
    ("503 Service Unavailable: quota exceeded", T.RESOURCE_LIMIT),
]


@pytest.mark.parametrize(("message", "expected"), CLASSIFY_TABLE)
def test_classify_error_table(message: str, expected: DescriptionErrorType) -> None:
    assert DescriptionFailure.classify_error(message) == (expected, expected in RETRYABLE)
    assert DescriptionFailure.classify_error(message.upper())[0] is expected


@given(st.text())
def test_classify_error_is_total_and_retryable_matches_type(message: str) -> None:
    error_type, retryable = DescriptionFailure.classify_error(message)
    assert isinstance(error_type, DescriptionErrorType)
    assert retryable is (error_type in RETRYABLE)


_KEYWORDS = [
    (T.RATE_LIMIT, " rate limit "),
    (T.RATE_LIMIT, " 429 "),
    (T.TIMEOUT, " timed out "),
    (T.RESOURCE_LIMIT, " quota "),
    (T.VALIDATION_ERROR, " unsupported "),
    (T.VLM_ERROR, " 502 "),
    (T.VLM_ERROR, " malformed "),
]


@given(st.text(), st.sampled_from(_KEYWORDS), st.text())
def test_classify_error_respects_precedence(
    before: str, keyword: tuple[DescriptionErrorType, str], after: str
) -> None:
    kind, word = keyword
    error_type, _ = DescriptionFailure.classify_error(before + word + after)
    assert error_type in PRECEDENCE[: PRECEDENCE.index(kind) + 1]


@given(st.text(), st.none() | st.text())
def test_from_error_message(message: str, filename: str | None) -> None:
    failure = DescriptionFailure.from_error_message("img", message, filename=filename)
    error_type, retryable = DescriptionFailure.classify_error(message)
    assert failure == DescriptionFailure("img", message, error_type, retryable, filename, message)
