"""The rules of user-supplied upload fields: title, tags, filename, booleans, category, ids."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scopix.server.domain.errors import DomainError, ValidationFailed
from scopix.server.domain.fields import (
    CONTENT_CATEGORIES,
    MAX_FILENAME_CHARS,
    MAX_TAG_CHARS,
    MAX_TAGS,
    MAX_TITLE_CHARS,
    UploadOptions,
    parse_bool,
    parse_tags,
    upload_options,
    validate_content_category,
    validate_filename,
    validate_optional_id,
    validate_tags,
    validate_title,
)

API_CATEGORIES = {
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

# Text that hypothesis may draw: every code point but surrogates, with the usual suspects boosted.
any_text = st.text(
    alphabet=st.one_of(
        st.characters(exclude_categories=["Cs"]),
        st.sampled_from(" \t\r\n\x00\x1f\x7f\x85\u200b\u200c\u200d\u202e\u2028\ufeff,/\\.é"),
    ),
    max_size=300,
)


# Bidirectional controls let a name or title display differently from what it is ("gpj.exe").
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def _control(text: str) -> bool:
    """What an accepted value may never hold: C0/C1 controls, DEL, bidi controls."""
    return any(unicodedata.category(ch) == "Cc" or ch in BIDI_CONTROLS for ch in text)


def _refusable(text: str) -> bool:
    """What the code may refuse as 'control characters' (today: categories Cc and Cf)."""
    return any(unicodedata.category(ch) in ("Cc", "Cf") for ch in text)


def _refused(call: Callable[[], object], field: str) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as info:
        call()
    assert info.value.details["field"] == field
    assert info.value.code == "VALIDATION_ERROR"
    return info.value


# --- title -------------------------------------------------------------------------------------


def test_title_absent_empty_or_blank_is_none() -> None:
    assert validate_title(None) is None
    assert validate_title("") is None
    assert validate_title("   \t ") is None


def test_title_is_stripped() -> None:
    assert validate_title("  Site plan, level 2  ") == "Site plan, level 2"
    assert validate_title("\n\tRoof\r\n") == "Roof"


def test_title_of_255_chars_is_accepted_and_256_refused() -> None:
    assert validate_title("t" * MAX_TITLE_CHARS) == "t" * 255
    err = _refused(lambda: validate_title("t" * 256), "title")
    assert err.details["length"] == 256


def test_title_length_counts_after_stripping() -> None:
    assert validate_title("  " + "t" * 255 + "  ") == "t" * 255


def test_title_length_counts_characters_not_bytes() -> None:
    assert validate_title("é" * 255) == "é" * 255
    assert validate_title("写" * 255) == "写" * 255


@pytest.mark.parametrize(
    "bad", ["a\x00b", "a\x07b", "a\nb", "a\rb", "a\x7fb", "a\x85b", "a\u202eb"]
)
def test_title_with_control_characters_is_refused(bad: str) -> None:
    _refused(lambda: validate_title(bad), "title")


def test_title_keeps_unicode_text() -> None:
    assert validate_title("Façade – 東京 📷") == "Façade – 東京 📷"


@given(any_text)
@settings(max_examples=300)
def test_title_property(raw: str) -> None:
    try:
        title = validate_title(raw)
    except ValidationFailed as exc:
        assert exc.details["field"] == "title"
        stripped = raw.strip()
        assert len(stripped) > MAX_TITLE_CHARS or _refusable(stripped)
        return
    if title is None:
        assert raw.strip() == ""
    else:
        assert title == raw.strip()
        assert 1 <= len(title) <= MAX_TITLE_CHARS
        assert not _control(title)


# --- tags --------------------------------------------------------------------------------------


def test_tags_from_comma_separated_field() -> None:
    assert parse_tags("roof, facade ,  crack") == ("roof", "facade", "crack")


def test_tags_absent_or_empty() -> None:
    assert parse_tags(None) == ()
    assert parse_tags("") == ()
    assert parse_tags(" , ,, ") == ()
    assert validate_tags([]) == ()


def test_tags_deduplicated_keeping_first_order() -> None:
    assert parse_tags("b,a,b, a ,c,a") == ("b", "a", "c")
    assert validate_tags(["x", " x", "y "]) == ("x", "y")


def test_tags_are_case_sensitive() -> None:
    assert parse_tags("Roof,roof") == ("Roof", "roof")


def test_exactly_40_tags_accepted_41_refused() -> None:
    forty = [f"t{i}" for i in range(MAX_TAGS)]
    assert validate_tags(forty) == tuple(forty)
    assert parse_tags(",".join(forty)) == tuple(forty)
    err = _refused(lambda: parse_tags(",".join([*forty, "extra"])), "tags")
    assert err.details["count"] == 41


def test_tag_count_is_taken_after_dedup_and_dropping_empties() -> None:
    forty = [f"t{i}" for i in range(MAX_TAGS)]
    assert len(validate_tags(forty + forty + ["", "  "])) == 40


def test_tag_of_50_chars_accepted_51_refused() -> None:
    assert validate_tags(["x" * MAX_TAG_CHARS]) == ("x" * 50,)
    assert validate_tags(["  " + "x" * 50 + " "]) == ("x" * 50,)
    err = _refused(lambda: validate_tags(["ok", "x" * 51]), "tags")
    assert err.details["tag"] == "x" * 51


def test_tag_with_control_characters_refused() -> None:
    _refused(lambda: validate_tags(["a\x00b"]), "tags")
    _refused(lambda: parse_tags("ok,a\x1bb"), "tags")
    _refused(lambda: parse_tags("ok,\u202egpj.exe"), "tags")


def test_unicode_tags_accepted() -> None:
    assert parse_tags("東京,café") == ("東京", "café")


@given(any_text)
@settings(max_examples=300)
def test_parse_tags_property(raw: str) -> None:
    try:
        tags = parse_tags(raw)
    except ValidationFailed as exc:
        assert exc.details["field"] == "tags"
        return
    assert len(tags) <= MAX_TAGS
    assert len(set(tags)) == len(tags)
    for tag in tags:
        assert tag and tag == tag.strip()
        assert len(tag) <= MAX_TAG_CHARS
        assert "," not in tag
        assert not _control(tag)
    expected = list(dict.fromkeys(p.strip() for p in raw.split(",") if p.strip()))
    assert list(tags) == expected


@given(st.lists(any_text, max_size=60))
@settings(max_examples=200)
def test_validate_tags_property(raw: list[str]) -> None:
    try:
        tags = validate_tags(raw)
    except ValidationFailed as exc:
        assert exc.details["field"] == "tags"
        return
    assert len(tags) <= MAX_TAGS
    assert len(set(tags)) == len(tags)
    assert all(t and t == t.strip() and len(t) <= MAX_TAG_CHARS for t in tags)
    assert not any(_control(t) for t in tags)


# --- filename ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["photo.jpg", "IMG 0001.JPEG", "..hidden.png", "a..b.png", ".jpg"])
def test_plain_filenames_accepted(name: str) -> None:
    assert validate_filename(name) == name


def test_filename_is_stripped() -> None:
    assert validate_filename("  photo.jpg \n") == "photo.jpg"


@pytest.mark.parametrize("name", ["写真.jpg", "Ærø façade.png", "фото.webp", "📷.gif", "صورة.tiff"])
def test_unicode_filenames_accepted(name: str) -> None:
    assert validate_filename(name) == unicodedata.normalize("NFC", name)


def test_filename_is_nfc_normalised() -> None:
    decomposed = "cafe\u0301.jpg"
    assert validate_filename(decomposed) == "caf\u00e9.jpg"
    assert validate_filename("caf\u00e9.jpg") == "caf\u00e9.jpg"


@pytest.mark.parametrize(
    "name",
    [
        "dir/photo.jpg",
        "/etc/passwd",
        "../photo.jpg",
        "..\\photo.jpg",
        "C:\\Users\\me\\photo.jpg",
        "a\\b",
        "..",
        ".",
        " .. ",
    ],
)
def test_paths_refused(name: str) -> None:
    _refused(lambda: validate_filename(name), "filename")


@pytest.mark.parametrize("name", ["a\x00.jpg", "a\x1b.jpg", "a\nb.jpg", "a\u202e.jpg", "\x7f"])
def test_filename_control_characters_refused(name: str) -> None:
    _refused(lambda: validate_filename(name), "filename")


@pytest.mark.parametrize("name", [None, "", "   "])
def test_missing_filename_refused(name: str | None) -> None:
    _refused(lambda: validate_filename(name), "filename")


@pytest.mark.parametrize("name", ["a\u202egpj.exe", "\u2066x.jpg", "a\u200fb.png"])
def test_filename_bidi_controls_refused(name: str) -> None:
    _refused(lambda: validate_filename(name), "filename")


JOINER_TEXTS = [
    "\U0001f468\u200d\U0001f469\u200d\U0001f467.jpg",  # family emoji: ZERO WIDTH JOINER
    "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645.jpg",  # Persian: ZERO WIDTH NON-JOINER
]


@pytest.mark.parametrize(
    "validator", [validate_filename, validate_title, lambda t: parse_tags(t)[0]]
)
@pytest.mark.parametrize("text", JOINER_TEXTS)
def test_joiners_in_ordinary_text_are_accepted(
    validator: Callable[[str], object], text: str
) -> None:
    assert validator(text) == text


def test_filename_length_boundary() -> None:
    assert validate_filename("n" * (MAX_FILENAME_CHARS - 4) + ".jpg") == "n" * 251 + ".jpg"
    _refused(lambda: validate_filename("n" * 252 + ".jpg"), "filename")
    assert validate_filename("é" * 255) == "é" * 255


def test_filename_length_counts_after_nfc() -> None:
    # 255 composed characters written decomposed (510 code points) still fit.
    assert validate_filename("e\u0301" * 255) == "\u00e9" * 255


@given(any_text)
@settings(max_examples=300)
def test_filename_property(raw: str) -> None:
    try:
        name = validate_filename(raw)
    except ValidationFailed as exc:
        assert exc.details["field"] == "filename"
        return
    assert name
    assert 1 <= len(name) <= MAX_FILENAME_CHARS
    assert "/" not in name and "\\" not in name
    assert name not in (".", "..")
    assert not _control(name)
    assert unicodedata.is_normalized("NFC", name)


# --- booleans ----------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["true", "TRUE", "True", "1", "yes", "on", " on ", "Yes"])
def test_true_values(raw: str) -> None:
    assert parse_bool(raw, field="auto_describe", default=False) is True


@pytest.mark.parametrize("raw", ["false", "FALSE", "0", "no", "off", " Off "])
def test_false_values(raw: str) -> None:
    assert parse_bool(raw, field="auto_describe", default=True) is False


@pytest.mark.parametrize("raw", [None, "", "  "])
@pytest.mark.parametrize("default", [True, False])
def test_bool_default_when_absent(raw: str | None, default: bool) -> None:
    assert parse_bool(raw, field="x", default=default) is default


@pytest.mark.parametrize("raw", ["maybe", "2", "t", "y", "truefalse", "-1"])
def test_bool_garbage_refused(raw: str) -> None:
    err = _refused(
        lambda: parse_bool(raw, field="skip_duplicates", default=False), "skip_duplicates"
    )
    assert err.details["value"] == raw


def test_bool_echoes_at_most_50_chars() -> None:
    err = _refused(lambda: parse_bool("z" * 500, field="f", default=False), "f")
    assert err.details["value"] == "z" * 50


@given(st.one_of(st.none(), any_text), st.booleans())
@settings(max_examples=200)
def test_parse_bool_property(raw: str | None, default: bool) -> None:
    try:
        value = parse_bool(raw, field="auto_describe", default=default)
    except ValidationFailed as exc:
        assert exc.details["field"] == "auto_describe"
        return
    assert isinstance(value, bool)


# --- content category --------------------------------------------------------------------------


def test_categories_match_api_md() -> None:
    assert set(CONTENT_CATEGORIES) == API_CATEGORIES


@pytest.mark.parametrize("category", sorted(API_CATEGORIES))
def test_each_documented_category_accepted(category: str) -> None:
    assert validate_content_category(category) == category
    assert validate_content_category(f" {category} ") == category


@pytest.mark.parametrize("raw", [None, "", " "])
def test_category_defaults_to_general(raw: str | None) -> None:
    assert validate_content_category(raw) == "general"


@pytest.mark.parametrize("raw", ["photos", "Blueprint", "p&id", "general,map"])
def test_unknown_category_refused(raw: str) -> None:
    err = _refused(lambda: validate_content_category(raw), "content_category")
    assert set(err.details["allowed"]) == API_CATEGORIES


@given(st.one_of(st.none(), any_text))
@settings(max_examples=200)
def test_content_category_property(raw: str | None) -> None:
    try:
        value = validate_content_category(raw)
    except ValidationFailed as exc:
        assert exc.details["field"] == "content_category"
        return
    assert value in API_CATEGORIES


# --- optional ids ------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [None, "", "  "])
def test_optional_id_absent(raw: str | None) -> None:
    assert validate_optional_id(raw, field="folder_id") is None


def test_optional_id_accepted_and_stripped() -> None:
    assert validate_optional_id(" folder-1 ", field="folder_id") == "folder-1"
    assert validate_optional_id("f" * 64, field="folder_id") == "f" * 64


@pytest.mark.parametrize("raw", ["a\u2028b", "a\u2029b", "a\ue000b", "a\u0378b"])
def test_optional_id_refuses_non_printable(raw: str) -> None:
    _refused(lambda: validate_optional_id(raw, field="folder_id"), "folder_id")


def test_optional_id_too_long_or_with_controls_refused() -> None:
    _refused(lambda: validate_optional_id("f" * 65, field="project_id"), "project_id")
    _refused(lambda: validate_optional_id("a\x00b", field="folder_id"), "folder_id")


@given(st.one_of(st.none(), any_text), st.sampled_from(["folder_id", "project_id"]))
@settings(max_examples=200)
def test_optional_id_property(raw: str | None, field: str) -> None:
    try:
        value = validate_optional_id(raw, field=field)
    except ValidationFailed as exc:
        assert exc.details["field"] == field
        return
    if value is None:
        assert raw is None or raw.strip() == ""
    else:
        assert 1 <= len(value) <= 64
        assert value == value.strip()
        assert not _control(value)


# --- the whole form ----------------------------------------------------------------------------


def test_upload_options_defaults() -> None:
    assert upload_options({}) == UploadOptions()
    opts = UploadOptions()
    assert opts.title is None
    assert opts.tags == ()
    assert opts.auto_describe is True
    assert opts.skip_duplicates is False
    assert opts.content_category == "general"
    assert opts.folder_id is None and opts.project_id is None


def test_upload_options_all_fields() -> None:
    opts = upload_options(
        {
            "title": " Roof ",
            "tags": "a, b,a",
            "auto_describe": "false",
            "skip_duplicates": "yes",
            "content_category": "blueprint",
            "folder_id": "f1",
            "project_id": "p1",
            "unrelated": "ignored",
        }
    )
    assert opts == UploadOptions(
        title="Roof",
        tags=("a", "b"),
        auto_describe=False,
        skip_duplicates=True,
        content_category="blueprint",
        folder_id="f1",
        project_id="p1",
    )


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"title": "x" * 256}, "title"),
        ({"tags": ",".join(str(i) for i in range(41))}, "tags"),
        ({"auto_describe": "sometimes"}, "auto_describe"),
        ({"skip_duplicates": "sometimes"}, "skip_duplicates"),
        ({"content_category": "nope"}, "content_category"),
        ({"folder_id": "x" * 65}, "folder_id"),
        ({"project_id": "x" * 65}, "project_id"),
    ],
)
def test_upload_options_names_the_bad_field(fields: dict[str, str], field: str) -> None:
    _refused(lambda: upload_options(fields), field)


FORM_KEYS = [
    "title",
    "tags",
    "auto_describe",
    "skip_duplicates",
    "content_category",
    "folder_id",
    "project_id",
]


@given(st.dictionaries(st.sampled_from(FORM_KEYS), any_text, max_size=7))
@settings(max_examples=200)
def test_upload_options_property(fields: dict[str, str]) -> None:
    try:
        opts = upload_options(fields)
    except ValidationFailed as exc:
        assert exc.details["field"] in FORM_KEYS
        return
    except DomainError as exc:  # pragma: no cover - would be a bug
        pytest.fail(f"unexpected {type(exc).__name__}")
    assert opts.title is None or len(opts.title) <= MAX_TITLE_CHARS
    assert len(opts.tags) <= MAX_TAGS
    assert opts.content_category in API_CATEGORIES
