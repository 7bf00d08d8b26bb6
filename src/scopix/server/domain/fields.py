"""Rules for the user-supplied fields of uploads and edits."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Final

from scopix.server.domain.errors import ValidationFailed

MAX_TITLE_CHARS: Final = 255
MAX_TAGS: Final = 40
MAX_TAG_CHARS: Final = 50
MAX_FILENAME_CHARS: Final = 255
MAX_NAME_CHARS: Final = 255

CONTENT_CATEGORIES: Final = frozenset(
    {
        "general",
        "blueprint",
        "ce_plan",
        "technical_diagram",
        "architectural_design",
        "product_photo",
        "real_estate",
        "mining",
        "robotics",
        "artwork",
        "screenshot",
        "document",
        "map",
        "pid",
        "pfd",
        "construction",
        "facility_assessment",
    }
)

_TRUE: Final = frozenset({"true", "1", "yes", "on"})
_FALSE: Final = frozenset({"false", "0", "no", "off"})


@dataclass(frozen=True)
class UploadOptions:
    """The validated form fields of a streaming upload."""

    title: str | None = None
    tags: tuple[str, ...] = ()
    auto_describe: bool = True
    skip_duplicates: bool = False
    content_category: str = "general"
    folder_id: str | None = None
    project_id: str | None = None
    #: a schema of the tenant's to extract with once the description settles
    custom_schema_id: str | None = None


#: Format characters that ordinary text needs (emoji sequences, Persian and Indic scripts).
_JOINERS: Final = frozenset("\u200c\u200d")


def _has_control_chars(text: str) -> bool:
    """Control characters, and format characters other than the joiners (bidi overrides,
    zero-width spaces, BOMs), which can disguise a name as something else."""
    return any(_is_control(ch) for ch in text)


def _is_control(ch: str) -> bool:
    category = unicodedata.category(ch)
    return category == "Cc" or (category == "Cf" and ch not in _JOINERS)


def validate_title(title: str | None) -> str | None:
    """A title is optional, at most 255 characters, without control characters."""
    if title is None:
        return None
    title = title.strip()
    if len(title) > MAX_TITLE_CHARS:
        raise ValidationFailed(
            f"title may be at most {MAX_TITLE_CHARS} characters", field="title", length=len(title)
        )
    if _has_control_chars(title):
        raise ValidationFailed("title may not contain control characters", field="title")
    return title or None


def validate_tags(tags: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """At most 40 distinct non-empty tags of at most 50 characters; order kept."""
    cleaned = tuple(dict.fromkeys(t.strip() for t in tags if t.strip()))
    if len(cleaned) > MAX_TAGS:
        raise ValidationFailed(
            f"at most {MAX_TAGS} tags are allowed", field="tags", count=len(cleaned)
        )
    for tag in cleaned:
        if len(tag) > MAX_TAG_CHARS:
            raise ValidationFailed(
                f"each tag may be at most {MAX_TAG_CHARS} characters", field="tags", tag=tag
            )
        if _has_control_chars(tag):
            raise ValidationFailed("tags may not contain control characters", field="tags")
    return cleaned


def parse_tags(raw: str | None) -> tuple[str, ...]:
    """Tags from the comma-separated form field."""
    return validate_tags(raw.split(",")) if raw else ()


def parse_bool(raw: str | None, *, field: str, default: bool) -> bool:
    """A form boolean: true/false, 1/0, yes/no, on/off."""
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValidationFailed(f"{field} must be true or false", field=field, value=raw[:50])


def validate_content_category(raw: str | None) -> str:
    """One of the documented categories; `general` when absent."""
    if raw is None or raw.strip() == "":
        return "general"
    value = raw.strip()
    if value not in CONTENT_CATEGORIES:
        raise ValidationFailed(
            "unknown content_category",
            field="content_category",
            allowed=sorted(CONTENT_CATEGORIES),
        )
    return value


def validate_filename(raw: str | None) -> str:
    """A plain file name: no path, no `..`, no control characters, at most 255 characters."""
    if raw is None or raw.strip() == "":
        raise ValidationFailed("the file part has no filename", field="filename")
    name = unicodedata.normalize("NFC", raw.strip())
    if "/" in name or "\\" in name or name in (".", ".."):
        raise ValidationFailed("filename may not contain a path", field="filename")
    if _has_control_chars(name):
        raise ValidationFailed("filename may not contain control characters", field="filename")
    if len(name) > MAX_FILENAME_CHARS:
        raise ValidationFailed(
            f"filename may be at most {MAX_FILENAME_CHARS} characters", field="filename"
        )
    return name


def validate_name(raw: str, *, field: str = "name") -> str:
    """A project's or folder's name: 1-255 characters once trimmed and composed (NFC), no
    control characters, and not "." or ".." (a path of names would read them as steps)."""
    name = unicodedata.normalize("NFC", raw.strip())
    if not name:
        raise ValidationFailed(f"{field} may not be empty", field=field)
    if len(name) > MAX_NAME_CHARS:
        raise ValidationFailed(
            f"{field} may be at most {MAX_NAME_CHARS} characters", field=field, length=len(name)
        )
    if _has_control_chars(name):
        raise ValidationFailed(f"{field} may not contain control characters", field=field)
    if name in (".", ".."):
        raise ValidationFailed(f'{field} may not be "." or ".."', field=field)
    return name


def name_key(name: str) -> str:
    """What two names that may not live side by side share: "Photos" and "PHOTOS" are one."""
    return unicodedata.normalize("NFC", name.casefold())


def validate_optional_id(raw: str | None, *, field: str) -> str | None:
    """Folder, project and schema ids are opaque strings of at most 64 printable characters."""
    if raw is None or raw.strip() == "":
        return None
    value = raw.strip()
    if len(value) > 64 or not value.isprintable():
        raise ValidationFailed(f"{field} must be at most 64 printable characters", field=field)
    return value


def upload_options(fields: dict[str, str]) -> UploadOptions:
    """Validate the text fields of an upload form."""
    return UploadOptions(
        title=validate_title(fields.get("title")),
        tags=parse_tags(fields.get("tags")),
        auto_describe=parse_bool(fields.get("auto_describe"), field="auto_describe", default=True),
        skip_duplicates=parse_bool(
            fields.get("skip_duplicates"), field="skip_duplicates", default=False
        ),
        content_category=validate_content_category(fields.get("content_category")),
        folder_id=validate_optional_id(fields.get("folder_id"), field="folder_id"),
        project_id=validate_optional_id(fields.get("project_id"), field="project_id"),
        custom_schema_id=validate_optional_id(
            fields.get("custom_schema_id"), field="custom_schema_id"
        ),
    )
