"""The SDK exception tree and the mapping from HTTP error responses to it."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import scopix
from scopix import (
    AuthenticationError,
    BatchUploadResults,
    DescriptionError,
    DescriptionFailure,
    InsufficientStorageError,
    QuotaExceededError,
    RateLimitError,
    ResourceNotFoundError,
    ScopixConnectionError,
    ScopixError,
    ScopixPermissionError,
    ScopixTimeoutError,
    ServerError,
    UploadError,
    UploadResult,
    ValidationError,
    WrongMediaTypeError,
)
from scopix.errors import error_from_response

DEFAULT_CODES: list[tuple[type[ScopixError], str]] = [
    (ScopixError, "UNKNOWN"),
    (AuthenticationError, "INVALID_API_KEY"),
    (ScopixPermissionError, "PERMISSION_DENIED"),
    (ResourceNotFoundError, "NOT_FOUND"),
    (ValidationError, "VALIDATION_ERROR"),
    (WrongMediaTypeError, "WRONG_MEDIA_TYPE"),
    (QuotaExceededError, "QUOTA_EXCEEDED"),
    (RateLimitError, "RATE_LIMITED"),
    (ScopixTimeoutError, "TIMEOUT"),
    (ServerError, "INTERNAL_ERROR"),
    (InsufficientStorageError, "INSUFFICIENT_STORAGE"),
    (ScopixConnectionError, "CONNECTION_ERROR"),
    (UploadError, "UPLOAD_FAILED"),
    (DescriptionError, "DESCRIPTION_FAILED"),
]
ALL_ERRORS = [cls for cls, _ in DEFAULT_CODES]


def test_every_error_is_exported_and_derives_from_scopix_error() -> None:
    for cls in ALL_ERRORS:
        assert getattr(scopix, cls.__name__) is cls
        assert cls.__name__ in scopix.__all__
        assert issubclass(cls, ScopixError)
        assert (cls.__doc__ or "").strip()
    assert issubclass(ScopixError, Exception)


@pytest.mark.parametrize(("cls", "code"), DEFAULT_CODES)
def test_default_code_and_attributes(cls: type[ScopixError], code: str) -> None:
    error = cls("boom")
    assert (error.code, error.message, error.details) == (code, "boom", {})
    assert (error.status_code, error.request_id) == (None, None)
    assert str(error) == f"{code}: boom"
    assert error.args == ("boom",)


def test_explicit_attributes_are_kept() -> None:
    details = {"available": 2, "limit": 10}
    error = ScopixError(
        "over", code="CONFLICT", details=details, status_code=409, request_id="req_1"
    )
    assert error.code == "CONFLICT"
    assert error.details == details
    assert error.details is not details
    assert (error.status_code, error.request_id) == (409, "req_1")
    assert str(error) == "CONFLICT: over (request_id=req_1)"


def test_subclass_specific_attributes() -> None:
    assert RateLimitError("slow down").retry_after is None
    assert RateLimitError("slow down", retry_after=2.5, status_code=429).retry_after == 2.5
    assert QuotaExceededError("no").partial_results is None
    partial = BatchUploadResults([UploadResult(image_id="i", filename="f")])
    assert QuotaExceededError("no", partial_results=partial).partial_results is partial
    assert DescriptionError("bad").failures == []
    failure = DescriptionFailure.from_error_message("i", "timed out")
    error = DescriptionError("bad", failures=(failure,), request_id="r")
    assert error.failures == [failure]
    assert str(error) == "DESCRIPTION_FAILED: bad (request_id=r)"


@pytest.mark.parametrize("cls", ALL_ERRORS)
def test_errors_are_caught_as_scopix_error_and_pickle(cls: type[ScopixError]) -> None:
    with pytest.raises(ScopixError) as info:
        raise cls("boom", code="X", details={"a": 1}, status_code=500, request_id="r")
    copy = pickle.loads(pickle.dumps(info.value))
    assert type(copy) is cls
    assert vars(copy) == vars(info.value)
    assert str(copy) == "X: boom (request_id=r)"


def _envelope(code: str, message: str = "msg", **details: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}, "request_id": "b"}


MAPPING = [
    (400, "VALIDATION_ERROR", ValidationError),
    (400, "CORRUPT_FILE", ValidationError),
    (400, "WRONG_MEDIA_TYPE", WrongMediaTypeError),
    (422, "VALIDATION_ERROR", ValidationError),
    (415, "UNSUPPORTED_MEDIA_TYPE", ScopixError),
    (413, "FILE_TOO_LARGE", ValidationError),
    (401, "INVALID_API_KEY", AuthenticationError),
    (403, "PERMISSION_DENIED", ScopixPermissionError),
    (403, "QUOTA_EXCEEDED", QuotaExceededError),
    (404, "NOT_FOUND", ResourceNotFoundError),
    (408, "REQUEST_TIMEOUT", ScopixTimeoutError),
    (409, "CONFLICT", ScopixError),
    (429, "RATE_LIMITED", RateLimitError),
    (500, "INTERNAL_ERROR", ServerError),
    (503, "UNAVAILABLE", ServerError),
    (507, "INSUFFICIENT_STORAGE", InsufficientStorageError),
    (599, "WHATEVER", ServerError),
    (418, "TEAPOT", ScopixError),
]


@pytest.mark.parametrize(("status", "code", "cls"), MAPPING)
def test_error_from_response_mapping(status: int, code: str, cls: type[ScopixError]) -> None:
    error = error_from_response(status, _envelope(code, available=1), "hdr")
    assert type(error) is cls
    assert (error.code, error.message, error.details) == (code, "msg", {"available": 1})
    assert (error.status_code, error.request_id) == (status, "hdr")


def test_error_from_response_request_id_falls_back_to_body() -> None:
    assert error_from_response(404, _envelope("NOT_FOUND"), None).request_id == "b"
    assert error_from_response(404, {"detail": "x"}, None).request_id is None


def test_error_from_response_carries_retry_after_and_str() -> None:
    error = error_from_response(429, _envelope("RATE_LIMITED", "Slow down"), "req_9", 3.0)
    assert isinstance(error, RateLimitError)
    assert error.retry_after == 3.0
    assert str(error) == "RATE_LIMITED: Slow down (request_id=req_9)"


def test_quota_code_wins_over_status() -> None:
    error = error_from_response(429, _envelope("QUOTA_EXCEEDED", limit=10), None)
    assert isinstance(error, QuotaExceededError)
    assert error.details == {"limit": 10}
    assert error.partial_results is None


@pytest.mark.parametrize(
    ("status", "body", "cls", "code", "message"),
    [
        (404, {"detail": "Not Found"}, ResourceNotFoundError, "NOT_FOUND", "Not Found"),
        (401, None, AuthenticationError, "INVALID_API_KEY", "HTTP 401"),
        (502, "<p>Bad Gateway</p>", ServerError, "INTERNAL_ERROR", "<p>Bad Gateway</p>"),
        (500, b"oops", ServerError, "INTERNAL_ERROR", "oops"),
        (400, {"message": "bad"}, ValidationError, "VALIDATION_ERROR", "bad"),
        (400, {"error": "bad thing"}, ValidationError, "VALIDATION_ERROR", "bad thing"),
        (422, {"detail": [{"loc": ["body"]}]}, ValidationError, "VALIDATION_ERROR", None),
        (403, [1, 2], ScopixPermissionError, "PERMISSION_DENIED", "[1, 2]"),
        (403, {"error": {"message": "no"}}, ScopixPermissionError, "PERMISSION_DENIED", "no"),
        (409, {}, ScopixError, "UNKNOWN", "HTTP 409"),
    ],
)
def test_error_from_response_tolerates_other_bodies(
    status: int, body: Any, cls: type[ScopixError], code: str, message: str | None
) -> None:
    error = error_from_response(status, body, None)
    assert type(error) is cls
    assert error.code == code
    if message is not None:
        assert error.message == message


def test_non_envelope_mapping_keeps_body_as_details() -> None:
    body = {"detail": [{"loc": ["body", "file"], "msg": "required"}]}
    error = error_from_response(422, body, None)
    assert error.details == body
    assert "required" in error.message


def test_long_text_bodies_are_shortened() -> None:
    error = error_from_response(500, "x" * 10_000, None)
    assert len(error.message) <= 500


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)
_bodies = (
    _json
    | st.binary()
    | st.fixed_dictionaries(
        {"error": st.fixed_dictionaries({}, optional={"code": _json, "message": _json})},
        optional={"request_id": _json, "details": _json},
    )
)


@given(st.integers(min_value=100, max_value=599), _bodies, st.none() | st.text())
def test_error_from_response_never_raises(status: int, body: Any, request_id: str | None) -> None:
    error = error_from_response(status, body, request_id)
    assert isinstance(error, ScopixError)
    assert error.status_code == status
    assert isinstance(error.code, str) and error.code
    assert isinstance(error.message, str) and error.message
    assert isinstance(error.details, dict)
    if status >= 500 and error.code != "QUOTA_EXCEEDED":
        assert isinstance(error, ServerError)
    str(error)
