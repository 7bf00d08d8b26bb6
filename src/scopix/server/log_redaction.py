"""Logs never carry a capability: signed query strings, API keys and bearer tokens are redacted
from every record before a handler writes it.

A part URL of a local direct upload is valid for up to 7 days and a `/ui/images` link for hours:
whoever reads the access log could use them. The filter sits on the handlers (uvicorn's and the
root's), so it sees records from every logger, the ones propagated from children included.
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any, Final

__all__ = ["RedactingFilter", "install_on_root", "redact", "uvicorn_log_config"]

REDACTED: Final = "[redacted]"

#: Query parameters whose value is a capability: ours and S3's presigned-URL ones.
_SIGNED_PARAMS: Final = re.compile(
    r"(?i)(\b(?:signature|x-amz-signature|x-amz-credential|x-amz-security-token)=)[^&\s\"'#]*"
)
#: An API key keeps its public prefix (an operator names keys by it) and loses its secret.
_API_KEY: Final = re.compile(r"\b(scopix_[A-Za-z0-9]{8})_[A-Za-z0-9_-]+")
_BEARER: Final = re.compile(r"(?i)\b(bearer\s+)[^\s\"',]+")


def redact(text: str) -> str:
    """`text` with signatures, API key secrets and bearer tokens replaced by [redacted]."""
    text = _SIGNED_PARAMS.sub(rf"\g<1>{REDACTED}", text)
    text = _API_KEY.sub(rf"\g<1>_{REDACTED}", text)
    return _BEARER.sub(rf"\g<1>{REDACTED}", text)


class RedactingFilter(logging.Filter):
    """Redacts a record in place (message, arguments, traceback); drops nothing.

    String arguments are redacted one by one first: uvicorn's access formatter reads its fields
    (the request path among them) from the args, so those must stay a tuple. Only a message
    that still shows a secret once formatted is replaced by its redacted text.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {name: _redacted(arg) for name, arg in record.args.items()}
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True  # a malformed call: the handler reports it, with nothing formatted
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text when it is set: this is the traceback they will print.
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


def _redacted(arg: object) -> object:
    return redact(arg) if isinstance(arg, str) else arg


def install_on_root() -> None:
    """Put the filter on every handler of the root logger (call after configuring them)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's own logging configuration, with the filter on each of its handlers."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact": {"()": RedactingFilter}}
    for handler in config["handlers"].values():
        handler["filters"] = [*handler.get("filters", []), "redact"]
    return config
