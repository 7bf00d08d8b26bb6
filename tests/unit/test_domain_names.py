"""Names of projects (and, later, folders): what is accepted, and which two names are one."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scopix.server.domain.errors import ValidationFailed
from scopix.server.domain.fields import MAX_NAME_CHARS, name_key, validate_name


def test_a_name_is_trimmed_and_composed() -> None:
    assert validate_name("  Holiday 2026 ") == "Holiday 2026"
    assert validate_name("Cafe\u0301") == "Caf\u00e9"


@pytest.mark.parametrize(
    "raw", ["", "   ", ".", "..", "a\x00b", "line\nbreak", "\u202eevil", "x" * (MAX_NAME_CHARS + 1)]
)
def test_refused_names_say_which_field(raw: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        validate_name(raw, field="name")
    assert refused.value.details["field"] == "name"


def test_the_longest_name_and_joiners_are_accepted() -> None:
    assert validate_name("x" * MAX_NAME_CHARS) == "x" * MAX_NAME_CHARS
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # a joined emoji sequence
    assert validate_name(family) == family


def test_names_differing_in_case_or_composition_are_one() -> None:
    assert name_key(validate_name("Straße")) == name_key(validate_name("STRASSE"))
    assert name_key(validate_name("Cafe\u0301")) == name_key(validate_name("CAFÉ"))
    assert name_key("Photos") != name_key("Photo")


@given(st.text(max_size=300))
def test_an_accepted_name_is_stable_and_within_bounds(raw: str) -> None:
    try:
        name = validate_name(raw)
    except ValidationFailed:
        return
    assert 1 <= len(name) <= MAX_NAME_CHARS
    assert name == name.strip() and unicodedata.is_normalized("NFC", name)
    assert validate_name(name) == name
    assert name_key(name) == name_key(name_key(name))
