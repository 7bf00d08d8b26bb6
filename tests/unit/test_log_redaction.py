"""Log records lose signed query strings, API key secrets and bearer tokens, whatever logs them."""

from __future__ import annotations

import io
import logging
import string

from hypothesis import given
from hypothesis import strategies as st

from scopix.server.log_redaction import RedactingFilter, redact

QUERY_CHARS = string.ascii_letters + string.digits + "-_.~%+/="
secrets = st.text(QUERY_CHARS, min_size=16, max_size=80).filter(lambda s: "&" not in s)
KEY = "scopix_AbCd1234_" + "s3cr3t-" * 6


@given(secret=secrets, expires=st.integers(min_value=0, max_value=2**40))
def test_a_signed_part_url_keeps_its_path_and_loses_its_signature(
    secret: str, expires: int
) -> None:
    path = "/api/v2/files/direct-uploads/du_1/parts/3"
    clean = redact(f"{path}?expires={expires}&signature={secret}")
    # The whole line, not `secret not in clean`: a secret may be a piece of the path it keeps.
    assert clean == f"{path}?expires={expires}&signature=[redacted]"


@given(secret=secrets)
def test_s3_presigned_parameters_are_redacted(secret: str) -> None:
    url = (
        f"https://s3.example/b/k?X-Amz-Credential={secret}&X-Amz-Date=20261204T000000Z"
        f"&X-Amz-Security-Token={secret}&X-Amz-Signature={secret}"
    )
    clean = redact(url)
    assert secret not in clean and "X-Amz-Date=20261204T000000Z" in clean


def test_keys_keep_their_public_prefix_and_bearer_tokens_go() -> None:
    assert redact(f"key {KEY} revoked") == "key scopix_AbCd1234_[redacted] revoked"
    assert redact("Authorization: Bearer sk-provider-123") == "Authorization: Bearer [redacted]"
    assert redact("GET /api/v2/files?limit=5 200") == "GET /api/v2/files?limit=5 200"


def _written(record_args: tuple[object, ...], message: str, exc: bool = False) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    try:
        if exc:
            try:
                raise RuntimeError(f"failed with {KEY}")
            except RuntimeError:
                logger.exception(message, *record_args)
        else:
            logger.warning(message, *record_args)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_the_filter_redacts_arguments_messages_and_tracebacks() -> None:
    path = "/ui/images/f_1/thumb?tenant=t&expires=9&signature=abcdefghijklmnop"
    assert "abcdefghijklmnop" not in _written((path,), "GET %s")
    assert "s3cr3t" not in _written((), f"saw {KEY}")
    # A secret split between a message and its argument shows only once formatted.
    assert "sk-provider" not in _written(("sk-provider-123",), "Authorization: Bearer %s")
    written = _written((), "boom", exc=True)
    assert "RuntimeError" in written and "s3cr3t" not in written
