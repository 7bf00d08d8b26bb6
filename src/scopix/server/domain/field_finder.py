"""Fill a custom schema's fields from OCR text lines, never inventing a value (pure).

Each `WantedField` gets at most one `FoundValue`; a field the text does not support is absent, and
the caller leaves it null. Every value is read from one region's text: `FoundValue.raw` is the
exact slice of `source.text` it came from, and the value is that slice, typed (a number, a date
normalized to ISO) but never completed or guessed.

Decisions:

* Layout. Regions are grouped by page, then into rows with `regions.reading_rows`; a region's
  right neighbour is the next one in its row, the region below is the one in the next row of the
  same page that overlaps it horizontally the most, at most two line heights further down.
* Labels. Explicit: the run of words in front of a ":" or "#", back to a value (a word with a
  digit, unless in parentheses: "Tax (8%)"), a wide gap or 4 words; only the whole run counts,
  so "Order Number:" is no "Number:" label. Plain: the first 1-4 digit-free words of a region or
  of a chunk after a wide gap ("Total  $1,234.56", "S/N 12345-ABC"), unless the value would then
  start with a label word ("Invoice | Date 2024-03-15" is no invoice number). Inner: inside a
  chunk, 1-4 known label words (the vocabulary below or a wanted field's name words) between two
  words with a digit ("XJ-500 S/N 12345-ABC"); prose ("1.234,56 € dated 1 March") has none.
  Header rows: a region of 2-8 label words that splits into 2+ labels, each naming every word of
  a distinct wanted field or a vocabulary label no wanted field is (a lone "No" qualifies, it is
  no label), scoring better on average than the whole as one label ("Company Name | Customer ID";
  not "Model No." nor "Invoice Date"). Its values are the region below, split by order: one word
  per label when the counts match, else typed values read one after the other, a plain string
  only as the last; a label whose value does not split off so gets none, nor does any label of a
  row that splits two ways. Its labels take no other value. Label and field
  name are reduced to word sets: snake_case and camelCase split, lower case, a few stop words
  dropped, and a small synonym table applied (no/nr/#/id -> number, issued/dated -> date, grand
  total/amount due/balance due/total due -> total, e-mail -> email, tel/telephone -> phone,
  s/n/sn -> serial number, type/mod -> model, seller/supplier/from -> vendor, bill to ->
  customer, web/homepage -> website). The score averages the label's precision (share of its
  words the field explains) and recall (share of the field name's words it names); a label
  matches from LABEL_THRESHOLD. Words of the description and of the parent path ("vendor" in
  "vendor.email") add half a word to the precision but never make a label match alone:
  descriptions are prose, and their words would match half the page. A label with "sub" never
  matches a field whose name lacks it ("Subtotal" is not "Total"), one naming a party
  (vendor/customer) never fills a field whose name or context names the other party, and a
  label belongs to the wanted fields it names best: with both wanted, "Date" fills date and
  not ship_date.
* Where the value is. On the label's own line after it (SAME_LINE), else, for a label that ends
  its region and is explicit or names every word of the field, in the region to its right
  (NEIGHBOUR) or below it (BELOW); a region that itself looks like "label: value" is never taken
  as another label's value. Candidates are tried best label score first, then placement, then
  reading order, then longer label; the first that reads as the field's type wins.
* Values end at a wide gap (2+ spaces, tab, "|") or an inner label; typed values are read from
  the value's start and may be followed by other text ("1,234.56 USD", "12 kg"). A string value
  that itself holds another "label:" is refused: where it ends cannot be told, and a wrong value
  is worse than none.
* Types. enum: only a value equal to a member (case-insensitive), returned as the member.
  boolean: only a bare yes/no/true/false. integer, then number: amounts with $ € £ ¥ ₹ or an ISO
  code before or after, thousands grouped by 3 with "," "." "'" or a space; with both
  "," and ".", the last one is the decimal mark; a lone "," before exactly 3 digits groups
  thousands, any other lone mark is decimal ("1.234" is 1.234). A number a float cannot hold as
  written is refused, and so is one followed by a space and a digit ("1 23": where does it
  end?). An integer must be integral. array/object fields are never filled: their
  items have no schema here.
* Strings by format: date -> ISO "YYYY-MM-DD" from 2024-03-15, 2024/03/15, 15.03.2024 (dots
  are day first), 15/03/2024 or 03/15/2024 only when one part exceeds 12 (or both are equal),
  "March 15, 2024", "15 Mar 2024"; two-digit years are never read (their century is a guess).
  date-time -> "YYYY-MM-DDTHH:MM:SS" plus the offset when the text has one (none is invented).
  email; uri (a scheme is required; a field named url/website also takes "www." as written);
  phone (format phone/tel or a name with phone/tel/fax/mobile): +, digits, spaces, dashes,
  parentheses, 7-15 digits, returned as written. Name words also pick email/phone/url readers,
  and a plain string named a number or id (invoice_number, customer_id) needs a digit.
* Unlabelled values. A field whose reader is distinctive (date, date-time, email, uri, phone)
  and that got no labelled value may take a value found anywhere, at UNLABELLED, when exactly
  one distinct value occurs and no other wanted field read that value from a label. Occurrences
  right after a label that names a kind ("Due Date:", "Fax:", or plain words: "Tel +1 ...",
  "Invoice Date 2024-...") and does not match the field belong to something else and are skipped.
  One value fills one field: of the fields that would take it, the one with the fewest name words
  ("date" over "due_date"), none on a tie ("phone" and "fax"). Unlabelled phones need a leading
  "+" or "(" or 3 digit groups: "2024-0042" is an invoice number.
* Confidence = the region's OCR confidence x the placement factor, and for a label that names
  only part of the field's name x (1 + the named share) / 2: "Date" for ship_date is weaker
  evidence than "Ship Date".
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from itertools import islice, pairwise, takewhile
from typing import Final

from scopix.server.domain.regions import TextRegion, reading_rows

__all__ = [
    "BELOW",
    "LABEL_THRESHOLD",
    "NEIGHBOUR",
    "SAME_LINE",
    "UNLABELLED",
    "FoundValue",
    "WantedField",
    "find_fields",
]

#: Placement factors: how sure a value belongs to its label, by where it sits.
SAME_LINE: Final = 0.95
NEIGHBOUR: Final = 0.85
BELOW: Final = 0.75
UNLABELLED: Final = 0.6
#: A label matches a field from this score: "Invoice" (0.75) names invoice_number, while
#: "Order Number" or "Number of items" (0.5) do not.
LABEL_THRESHOLD: Final = 0.6


@dataclass(frozen=True)
class WantedField:
    """One leaf of the custom schema the extractor fills."""

    path: str  # dotted, e.g. "vendor.email"
    name: str  # last segment, e.g. "invoice_number"
    types: tuple[str, ...]  # JSON schema types: string, integer, number, boolean, array
    description: str = ""
    format: str | None = None  # date, date-time, email, uri, ...
    enum: tuple[object, ...] | None = None


@dataclass(frozen=True)
class FoundValue:
    """A value read from text: `raw` is the slice of `source.text` it was read from."""

    path: str
    value: object
    confidence: float  # 0-1
    source: TextRegion | None
    raw: str = ""


def find_fields(fields: Sequence[WantedField], regions: Sequence[TextRegion]) -> list[FoundValue]:
    """One FoundValue per field the text supports, in the order of `fields`."""
    profiles = [_profile(field) for field in fields]
    doc = _document(regions, profiles)
    labelled = [_labelled(profile, doc) if profile.readers else None for profile in profiles]
    unlabelled = _unlabelled_values(profiles, labelled, doc)
    found = (mine or other for mine, other in zip(labelled, unlabelled, strict=True))
    return [value for value in found if value is not None]


# --- words -------------------------------------------------------------------------------------

_TOKEN: Final = re.compile(r"[^\W_]+")
_CAMEL: Final = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
#: Phrases rewritten before splitting into words (text is lower case by then).
_PHRASES: Final = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"\bsub[\s-]?totals?\b", " sub total "),
        (r"\be[\s-]?mail\b", " email "),
        (r"\bs\s*/\s*n\b|\bsn\b", " serial number "),
        (r"\bp\s*/\s*n\b", " part number "),
        (r"\b(?:amount|balance|total)\s+due\b", " total "),
        (r"\bgrand\s+total\b", " total "),
        (r"\bbill(?:ed)?\s+to\b", " customer "),
        (r"#", " number "),
    )
)
_SYNONYMS: Final = {
    **dict.fromkeys(("no", "nr", "num", "nbr", "id"), "number"),
    **dict.fromkeys(("dated", "issued", "issue"), "date"),
    **dict.fromkeys(("mail",), "email"),
    **dict.fromkeys(("tel", "telephone", "ph"), "phone"),
    **dict.fromkeys(("type", "mod"), "model"),
    **dict.fromkeys(("seller", "supplier", "from"), "vendor"),
    **dict.fromkeys(("web", "homepage", "site"), "website"),
}
_STOPWORDS: Final = frozenset({"a", "an", "the", "of", "for", "to", "on", "at", "in", "by", "and"})
#: Words with which a label says what kind of value follows it.
_KIND_WORDS: Final = frozenset({"date", "email", "phone", "fax", "mobile", "url", "website"})
#: Words that start a label rather than a value.
_VOCABULARY: Final = (
    frozenset(_SYNONYMS.values()) | _KIND_WORDS | {"total", "sub", "serial", "customer", "part"}
)
#: A label naming one of these never fills a field whose words name another of them.
_PARTIES: Final = frozenset({"vendor", "customer"})


def _words(text: str, *, camel: bool = False) -> frozenset[str]:
    """The normalized word set of a label or a field's name."""
    if camel:
        text = _CAMEL.sub(" ", text)
    text = text.replace("_", " ").lower()
    for pattern, replacement in _PHRASES:
        text = pattern.sub(replacement, text)
    tokens = (t for t in _TOKEN.findall(text) if t not in _STOPWORDS)
    return frozenset(_SYNONYMS.get(t, t) for t in tokens)


# --- reading values ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Read:
    """A value and the span of the text it was read from."""

    value: object
    start: int
    end: int


_Convert = Callable[[re.Match[str]], _Read | None]


@dataclass(frozen=True)
class _Reader:
    """One kind of value: read at the start of a labelled value, and (distinctive kinds only)
    anywhere in a line, with a key telling two occurrences of one value apart from two values."""

    at_start: Callable[[str], _Read | None]
    anywhere: Callable[[str], Iterator[_Read]] | None = None
    key: Callable[[object], object] = lambda value: value


def _first(regex: re.Pattern[str], convert: _Convert) -> Callable[[str], _Read | None]:
    def at_start(text: str) -> _Read | None:
        match = regex.match(text)
        return None if match is None else convert(match)

    return at_start


def _every(regex: re.Pattern[str], convert: _Convert) -> Callable[[str], Iterator[_Read]]:
    def anywhere(text: str) -> Iterator[_Read]:
        for match in regex.finditer(text):
            read = convert(match)
            if read is not None:
                yield read

    return anywhere


def _whole(match: re.Match[str], value: object) -> _Read:
    return _Read(value, match.start(), match.end())


# Dates. ASCII digits only: `\d` also matches superscripts and other scripts' digits.
_MONTHS: Final = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_DATE_CORE: Final = (
    r"(?P<y1>[0-9]{4})(?P<s1>[-/.])(?P<m1>[0-9]{1,2})(?P=s1)(?P<d1>[0-9]{1,2})"
    r"|(?P<a2>[0-9]{1,2})(?P<s2>[-/.])(?P<b2>[0-9]{1,2})(?P=s2)(?P<y2>[0-9]{4})"
    r"|(?P<n3>[A-Za-z]{3,9})\.?\s+(?P<d3>[0-9]{1,2})(?:st|nd|rd|th)?,?\s+(?P<y3>[0-9]{4})"
    r"|(?P<d4>[0-9]{1,2})(?:st|nd|rd|th)?(?:\s+|-)(?P<n4>[A-Za-z]{3,9})\.?,?(?:\s+|-)"
    r"(?P<y4>[0-9]{4})"
)
_DATE: Final = re.compile(rf"(?<!\w)(?:{_DATE_CORE})(?![0-9])")
_DATETIME: Final = re.compile(
    rf"(?<!\w)(?:{_DATE_CORE})(?:T|\s+|,\s*)(?P<h>[0-9]{{1,2}}):(?P<mi>[0-9]{{2}})"
    r"(?::(?P<s>[0-9]{2})(?P<frac>\.[0-9]{1,9})?)?(?:\s*(?P<ampm>[AaPp]\.?[Mm]\.?))?"
    r"(?:\s*(?P<tz>Z|UTC|[+-][0-9]{2}:?[0-9]{2}))?(?![\w:])"
)


def _month(word: str) -> int | None:
    return _MONTHS.get(word.lower())


def _numeric_day_month(a: int, b: int, separator: str) -> tuple[int, int] | None:
    """(day, month) of a numeric date, or None when which is which cannot be told."""
    if separator == "." or (a > 12 and b <= 12) or a == b:
        return a, b
    if b > 12 and a <= 12:
        return b, a
    return None


def _date_parts(match: re.Match[str]) -> tuple[int, int, int] | None:
    """(year, month, day) of whichever date form matched."""
    g = match.group
    if g("y1"):
        return int(g("y1")), int(g("m1")), int(g("d1"))
    if g("y2"):
        day_month = _numeric_day_month(int(g("a2")), int(g("b2")), g("s2"))
        return None if day_month is None else (int(g("y2")), day_month[1], day_month[0])
    name, day, year = (g("n3"), g("d3"), g("y3")) if g("n3") else (g("n4"), g("d4"), g("y4"))
    month = _month(name)
    return None if month is None else (int(year), month, int(day))


def _date_of(match: re.Match[str]) -> date | None:
    parts = _date_parts(match)
    if parts is None:
        return None
    try:
        return date(*parts)
    except ValueError:
        return None


def _convert_date(match: re.Match[str]) -> _Read | None:
    day = _date_of(match)
    return None if day is None else _whole(match, day.isoformat())


def _clock(match: re.Match[str]) -> str | None:
    """HH:MM:SS[.frac] of a matched time, or None when it is no time of day."""
    hour, minute, second = int(match["h"]), int(match["mi"]), int(match["s"] or 0)
    if match["ampm"]:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if match["ampm"][0] in "pP" else 0)
    if hour > 23 or minute > 59 or second > 59:
        return None
    return f"{hour:02d}:{minute:02d}:{second:02d}{match['frac'] or ''}"


def _offset(tz: str | None) -> str:
    """The offset as RFC 3339 writes it; empty when the text gives none."""
    if not tz:
        return ""
    if tz in ("Z", "UTC"):
        return "Z"
    return f"{tz[:3]}:{tz[-2:]}"


def _convert_datetime(match: re.Match[str]) -> _Read | None:
    day, clock = _date_of(match), _clock(match)
    if day is None or clock is None:
        return None
    return _whole(match, f"{day.isoformat()}T{clock}{_offset(match['tz'])}")


# Numbers.
_CURRENCY: Final = r"(?:[$€£¥₹]|(?:USD|EUR|GBP|CHF|JPY|CAD|AUD|INR)(?![A-Za-z]))"
_AMOUNT: Final = re.compile(
    rf"(?P<s1>[-−]?)(?:{_CURRENCY}\s?)?(?P<s2>[-−]?)"
    r"(?P<num>[0-9](?:(?:[0-9.,'\u00a0\u202f]| (?=[0-9]{3}(?![0-9])))*[0-9])?)"
    rf"(?:\s?{_CURRENCY})?(?!\w|[.,/\-:]\w|\s[0-9])",
    re.IGNORECASE,
)
#: Longer digit runs are no amount a document states (and would only cost time).
_MAX_NUMBER_CHARS: Final = 40


def _decimal_mark(num: str) -> int | None:
    """Index of the decimal mark in a digit run with separators, None when there is none."""
    marks = {c for c in num if c in ".,"}
    if len(marks) == 2:
        return max(num.rfind("."), num.rfind(","))
    if len(marks) != 1:
        return None
    mark = marks.pop()
    at = num.index(mark)
    if num.count(mark) > 1 or (mark == "," and len(num) - at - 1 == 3):
        return None
    return at


def _to_decimal(num: str) -> Decimal | None:
    """The number a digit run with thousands separators and a decimal mark writes, if valid."""
    if len(num) > _MAX_NUMBER_CHARS:
        return None
    num = re.sub("[ \u00a0\u202f]", "'", num)
    at = _decimal_mark(num)
    whole, fraction = (num, "") if at is None else (num[:at], num[at + 1 :])
    separators = {c for c in whole if c in ".,'"}
    groups = re.split(r"[.,']", whole)
    grouped = len(groups) == 1 or (
        1 <= len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])
    )
    if len(separators) > 1 or not grouped or (fraction and not fraction.isdecimal()):
        return None
    try:
        return Decimal("".join(groups) + ("." + fraction if fraction else ""))
    except InvalidOperation:
        return None


def _amount(match: re.Match[str]) -> Decimal | None:
    number = _to_decimal(match["num"])
    if number is None:
        return None
    return -number if (match["s1"] or match["s2"]) else number


def _convert_number(match: re.Match[str]) -> _Read | None:
    number = _amount(match)
    if number is None:
        return None
    value = float(number)
    # A float that does not print back as the text's number would misstate it.
    return _whole(match, value) if Decimal(repr(value)) == number else None


def _convert_integer(match: re.Match[str]) -> _Read | None:
    number = _amount(match)
    if number is None or number != number.to_integral_value():
        return None
    return _whole(match, int(number))


# Emails, web addresses, phones.
_EMAIL: Final = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w@-])"
)
_URI: Final = re.compile(r"(?<![\w.])[A-Za-z][A-Za-z0-9+.-]*://[^\s<>\"'()]+")
_WWW: Final = re.compile(r"(?<![\w./])www\.[^\s<>\"'()]+", re.IGNORECASE)
_URI_SCHEMES: Final = ("http://", "https://", "ftp://", "ftps://")
_PHONE: Final = re.compile(
    r"(?<![\w+\-/.,()])\+?\(?[0-9](?:[0-9()\-]| (?=[0-9(]))*[0-9](?![\w\-/]|[.,][0-9])"
)
_TRAILING: Final = ".,;:!?"


def _convert_email(match: re.Match[str]) -> _Read | None:
    text = match.group()
    return None if ".." in text else _whole(match, text)


def _convert_uri(match: re.Match[str], *, www: bool) -> _Read | None:
    text = match.group().rstrip(_TRAILING)
    lower = text.lower()
    known = lower.startswith(_URI_SCHEMES) and not lower.endswith("://")
    if not (known or (www and lower.startswith("www.") and "." in text[4:])):
        return None
    return _Read(text, match.start(), match.start() + len(text))


def _phone_digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def _convert_phone(match: re.Match[str], *, unlabelled: bool) -> _Read | None:
    text = match.group()
    if not 7 <= len(_phone_digits(text)) <= 15 or _DATE.fullmatch(text):
        return None
    groups = len(re.findall(r"[0-9]+", text))
    if unlabelled and not (text[0] in "+(" or groups >= 3):
        return None
    return _whole(match, text)


# Plain strings, booleans, enums.
_GAP: Final = re.compile(r"\s{2,}|\t|\s*\|\s*")
_COLON: Final = re.compile(r"[:：](?!//)")


def _colons(text: str) -> Iterator[int]:
    """Indexes of colons that can end a label: not in "://" nor between digits ("10:30")."""
    for match in _COLON.finditer(text):
        at = match.start()
        between_digits = (
            0 < at < len(text) - 1 and text[at - 1].isdigit() and text[at + 1].isdigit()
        )
        if at > 0 and not between_digits:
            yield at


def _looks_labelled(text: str) -> bool:
    """Whether a text holds "label: ..." (a letter before a label colon)."""
    first_letter = next((i for i, c in enumerate(text) if c.isalpha()), len(text))
    return any(at > first_letter for at in _colons(text))


def _trimmed(text: str, trailing: str) -> tuple[int, int]:
    """The span of `text` without surrounding spaces and the `trailing` marks at its end."""
    end = len(text.rstrip().rstrip(trailing).rstrip())
    start = len(text[:end]) - len(text[:end].lstrip())
    return start, end


def _read_string(text: str) -> _Read | None:
    start, end = _trimmed(text, ",;:")
    value = text[start:end]
    if not any(c.isalnum() for c in value) or _looks_labelled(value):
        return None
    return _Read(value, start, end)


def _read_identifier(text: str) -> _Read | None:
    read = _read_string(text)
    return read if read is not None and any(c.isdigit() for c in str(read.value)) else None


def _read_boolean(text: str) -> _Read | None:
    start, end = _trimmed(text, ".!")
    word = text[start:end].lower()
    if word not in ("yes", "no", "true", "false"):
        return None
    return _Read(word in ("yes", "true"), start, end)


_MISSING: Final = object()


def _enum_reader(members: tuple[object, ...]) -> _Reader:
    spelled = {str(m).casefold(): m for m in reversed(members) if m is not None}

    def at_start(text: str) -> _Read | None:
        start, end = _trimmed(text, _TRAILING)
        member = spelled.get(text[start:end].casefold(), _MISSING)
        return None if member is _MISSING else _Read(member, start, end)

    return _Reader(at_start)


def _fold(value: object) -> object:
    return str(value).casefold()


def _digits_key(value: object) -> object:
    return _phone_digits(str(value))


_STRING: Final = _Reader(_read_string)
_IDENTIFIER: Final = _Reader(_read_identifier)
_BOOLEAN_READER: Final = _Reader(_read_boolean)
_INTEGER: Final = _Reader(_first(_AMOUNT, _convert_integer))
_NUMBER: Final = _Reader(_first(_AMOUNT, _convert_number))
_DATE_READER: Final = _Reader(_first(_DATE, _convert_date), _every(_DATE, _convert_date))
_DATETIME_READER: Final = _Reader(
    _first(_DATETIME, _convert_datetime), _every(_DATETIME, _convert_datetime)
)
_EMAIL_READER: Final = _Reader(
    _first(_EMAIL, _convert_email), _every(_EMAIL, _convert_email), key=_fold
)
_URI_READER: Final = _Reader(
    _first(_URI, lambda m: _convert_uri(m, www=False)),
    _every(_URI, lambda m: _convert_uri(m, www=False)),
)
_WEB_ADDRESS: Final = re.compile(f"{_URI.pattern}|{_WWW.pattern}", re.IGNORECASE)
_WEB_READER: Final = _Reader(
    _first(_WEB_ADDRESS, lambda m: _convert_uri(m, www=True)),
    _every(_WEB_ADDRESS, lambda m: _convert_uri(m, www=True)),
)
_PHONE_READER: Final = _Reader(
    _first(_PHONE, lambda m: _convert_phone(m, unlabelled=False)),
    _every(_PHONE, lambda m: _convert_phone(m, unlabelled=True)),
    key=_digits_key,
)
_FORMAT_READERS: Final = {
    "date": _DATE_READER,
    "date-time": _DATETIME_READER,
    "email": _EMAIL_READER,
    "idn-email": _EMAIL_READER,
    "uri": _URI_READER,
    "iri": _URI_READER,
    "url": _URI_READER,
    "phone": _PHONE_READER,
    "tel": _PHONE_READER,
}
_NAME_READERS: Final = (
    (frozenset({"email"}), _EMAIL_READER),
    (frozenset({"phone", "fax", "mobile", "cell"}), _PHONE_READER),
    (frozenset({"url", "website", "uri"}), _WEB_READER),
)


def _string_reader(field: WantedField, name_words: frozenset[str]) -> _Reader:
    if field.format in _FORMAT_READERS:
        return _FORMAT_READERS[field.format]
    named = next((r for words, r in _NAME_READERS if words & name_words), None)
    if named is not None:
        return named
    # A "number" or "id" is written with digits: "Customer: Globex" is no customer_id.
    return _IDENTIFIER if "number" in name_words else _STRING


def _readers(field: WantedField, name_words: frozenset[str]) -> tuple[_Reader, ...]:
    """Readers to try in order; none for array or object fields."""
    if field.enum is not None:
        return (_enum_reader(field.enum),)
    types = set(field.types) or {"string"}
    readers = [
        reader
        for kind, reader in (
            ("boolean", _BOOLEAN_READER),
            ("integer", _INTEGER),
            ("number", _NUMBER),
        )
        if kind in types
    ]
    if "string" in types:
        readers.append(_string_reader(field, name_words))
    return tuple(readers)


# --- fields ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Profile:
    """A field as the matcher sees it."""

    field: WantedField
    name_words: frozenset[str]
    context_words: frozenset[str]  # description and parent path, less the name's words
    readers: tuple[_Reader, ...]


def _profile(field: WantedField) -> _Profile:
    name_words = _words(field.name, camel=True)
    parents = (_words(segment, camel=True) for segment in field.path.split(".")[:-1])
    context = _words(field.description).union(*parents) - name_words
    return _Profile(field, name_words, context, _readers(field, name_words))


def _conflicts(words: frozenset[str], profile: _Profile) -> bool:
    """Labels that share words with the field yet name something else."""
    if "sub" in words and "sub" not in profile.name_words:
        return True
    own_parties = (profile.name_words | profile.context_words) & _PARTIES
    return bool(own_parties and (words & _PARTIES) - own_parties)


def _label_score(words: frozenset[str], profile: _Profile) -> float:
    """0-1: how well a label names the field (0 when it names none of the field's words)."""
    hits = len(words & profile.name_words)
    if hits == 0 or _conflicts(words, profile):
        return 0.0
    support = len((words - profile.name_words) & profile.context_words)
    precision = (hits + 0.5 * support) / len(words)
    recall = hits / len(profile.name_words)
    return (precision + recall) / 2


def _names_all(words: frozenset[str], profile: _Profile) -> bool:
    return profile.name_words <= words


# --- layout and labels -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Slot:
    """A region with its place in the reading order and its neighbours."""

    region: TextRegion
    order: int
    left: TextRegion | None
    right: TextRegion | None
    below: TextRegion | None


@dataclass(frozen=True)
class _Candidate:
    """Where a labelled value may be read: a span of a region's text, and how sure its place is."""

    region: TextRegion
    start: int
    end: int
    factor: float


@dataclass(frozen=True)
class _Site:
    """A possible label inside a region, and where its value would start."""

    slot: _Slot
    words: frozenset[str]
    explicit: bool  # ended by ":" or "#"
    value_at: int
    length: int  # words in the label
    owner: WantedField | None = None  # a header row's column: only its field reads it
    fixed: _Candidate | None = None  # and only from this span


def _slots(regions: Sequence[TextRegion]) -> list[_Slot]:
    """Regions in reading order, page by page (a row never spans two pages)."""
    pages = sorted({r.page for r in regions}, key=lambda p: -1 if p is None else p)
    slots: list[_Slot] = []
    for page in pages:
        rows = reading_rows(r for r in regions if r.page == page)
        for i, row in enumerate(rows):
            next_row = rows[i + 1] if i + 1 < len(rows) else []
            for j, region in enumerate(row):
                left = row[j - 1] if j > 0 else None
                right = row[j + 1] if j + 1 < len(row) else None
                below = _below(region, next_row)
                slots.append(_Slot(region, len(slots), left, right, below))
    return slots


def _below(region: TextRegion, row: Sequence[TextRegion]) -> TextRegion | None:
    """The region of the next row under `region`: overlapping it most, within 2 line heights."""
    box = region.bbox

    def overlap(other: TextRegion) -> float:
        return min(box.x + box.width, other.bbox.x + other.bbox.width) - max(box.x, other.bbox.x)

    def near(other: TextRegion) -> bool:
        gap = other.bbox.y - (box.y + box.height)
        return gap <= 2 * max(box.height, other.bbox.height)

    under = [r for r in row if overlap(r) > 0 and near(r)]
    return max(under, key=overlap, default=None)


_WORD: Final = re.compile(r"\S+")
_LABEL_WORD: Final = re.compile(r"[^\W\d_][^\d\s:#]*")  # digit-free, starts with a letter


def _sites(slot: _Slot, profiles: Sequence[_Profile], known: frozenset[str]) -> Iterator[_Site]:
    header = _header(slot, profiles)
    if header is not None:
        yield from header
        return
    text = slot.region.text
    bounds = _bounds(text)
    for at in _colons(text):
        yield from _before(slot, bounds, at, at + 1)
    for match in _HASH.finditer(text):
        yield from _before(slot, bounds, match.start(), match.end())
    starts = [0, *(gap.end() for gap in _GAP.finditer(text))]
    for start in starts:
        yield from _leading(slot, start)
    for start, end in pairwise([*bounds, len(text)]):
        for label_start, label_end in _inner_labels(text, start, end, known):
            words = _words(text[label_start:label_end])
            yield _Site(
                slot, words, False, label_end, len(_WORD.findall(text, label_start, label_end))
            )


_HASH: Final = re.compile("#")


def _bounds(text: str) -> list[int]:
    """Where chunks of a text begin, sorted: its start and after each gap, label colon or "#"."""
    ends = [0, *(m.end() for m in _GAP.finditer(text)), *(m.end() for m in _HASH.finditer(text))]
    return sorted([*ends, *(at + 1 for at in _colons(text))])


def _chunk_start(bounds: Sequence[int], end: int) -> int:
    """Where the chunk holding text[:end] begins (the last bound at or before `end`)."""
    return bounds[bisect_right(bounds, end) - 1]


def _before(slot: _Slot, bounds: Sequence[int], end: int, value_at: int) -> Iterator[_Site]:
    """The explicit label before a ":" or "#": the words back to a value, gap or 4 words.

    Only the whole run is a label: "Order Number:" is not a "Number:" label.
    """
    text = slot.region.text
    words = list(_WORD.finditer(text, _chunk_start(bounds, end), end))
    run = list(takewhile(lambda w: _in_label(w.group()), reversed(words)))[:4]
    hash_mark = text[end] == "#"
    if run:
        label = text[run[-1].start() : value_at if hash_mark else end]
        yield _Site(slot, _words(label), True, value_at, len(run))
    elif hash_mark:
        yield _Site(slot, _words("#"), True, value_at, 1)


def _in_label(word: str) -> bool:
    """Whether a word can be part of a label: no digits, unless in parentheses ("Tax (8%)")."""
    return not any(c.isdigit() for c in word) or (word.startswith("(") and word.endswith(")"))


def _leading(slot: _Slot, start: int) -> Iterator[_Site]:
    """Plain labels: the first 1-4 words of a chunk, when they are words (no digits, no ":").

    A split whose value starts with a label word is no split: "Invoice | Date 2024-03-15" would
    make "Date 2024-03-15" an invoice number.
    """
    text = slot.region.text
    words = list(islice(_WORD.finditer(text, start), 5))
    for count, word in enumerate(words[:4], start=1):
        if not _LABEL_WORD.fullmatch(word.group()) or _GAP.search(text, start, word.start()):
            return
        following = words[count].group() if count < len(words) else ""
        if not _words(following) & _VOCABULARY:
            yield _Site(slot, _words(text[start : word.end()]), False, word.end(), count)


def _inner_labels(
    text: str, start: int, end: int, known: frozenset[str]
) -> Iterator[tuple[int, int]]:
    """Plain labels inside a chunk text[start:end], as spans: a run of up to 4 known label words
    between two words with a digit ("XJ-500 S/N 12345-ABC"; not "1.234,56 € dated 1 March")."""
    words = list(_WORD.finditer(text, start, end))
    for i, word in enumerate(words):
        if i < 2 or not any(c.isdigit() for c in word.group()):
            continue
        run = list(takewhile(lambda w: _known_word(w.group(), known), reversed(words[:i])))
        while run and not _words(run[-1].group()):  # a label does not start with "of"
            run.pop()
        after = words[i - len(run) - 1].group() if 0 < len(run) < i else ""
        if len(run) <= _LABEL_RUN and any(c.isdigit() for c in after):
            yield run[-1].start(), run[0].end()


_LABEL_RUN: Final = 4


def _known_word(word: str, known: frozenset[str]) -> bool:
    """A label word that is a known one: of the vocabulary or a wanted field's name (or "of")."""
    return _LABEL_WORD.fullmatch(word) is not None and _words(word) <= known


# --- header rows: several labels over their values ---


def _header(slot: _Slot, profiles: Sequence[_Profile]) -> list[_Site] | None:
    """Sites of a header row ("TYPE  SERIAL NO." over "PX-2200 0098-7731"), None when the region
    is no header: one whose label words split into 2+ labels better than they read as one."""
    text = slot.region.text
    words = list(_WORD.finditer(text))
    if not 2 <= len(words) <= _HEADER_WORDS or not all(
        _LABEL_WORD.fullmatch(w.group()) for w in words
    ):
        return None
    best, splits = _best_splits([w.group() for w in words], profiles)
    if best <= _best_score(_words(text), profiles):
        return None
    if len({owners for owners, _ in splits}) != 1:
        return []  # labels that split two ways: which value is whose cannot be told
    owners, labels = splits[0]
    spans = _columns(slot.below, [None if o is None else profiles[o] for o in owners])
    return [
        _Site(slot, label, False, 0, 1, profiles[owner].field, _Candidate(slot.below, *span, BELOW))
        for owner, label, span in zip(owners, labels, spans, strict=False)
        if owner is not None and slot.below is not None
    ]


_HEADER_WORDS: Final = 8
_Split = tuple[tuple[int | None, ...], tuple[frozenset[str], ...]]


def _best_splits(words: Sequence[str], profiles: Sequence[_Profile]) -> tuple[float, list[_Split]]:
    """The splits of a row of label words into 2+ labels with the best mean score, and it."""
    best, splits = 0.0, []
    for sizes in _compositions(len(words)):
        labels = tuple(_words(" ".join(words[a:b])) for a, b in pairwise(_cuts(sizes)))
        rated = [_column_owner(label, profiles) for label in labels]
        owners = tuple(owner for owner, _ in rated)
        named = [o for o in owners if o is not None]
        if len(sizes) < 2 or not named or len(set(named)) < len(named) or _NOT_A_LABEL in rated:
            continue
        mean = sum(score for _, score in rated) / len(rated)
        if mean > best:
            best, splits = mean, [(owners, labels)]
        elif mean == best:
            splits.append((owners, labels))
    return best, splits


def _compositions(n: int) -> Iterator[tuple[int, ...]]:
    """Ways to cut n words into labels of 1-4 words, in order."""
    if n == 0:
        yield ()
    for size in range(1, min(4, n) + 1):
        for rest in _compositions(n - size):
            yield (size, *rest)


def _cuts(sizes: Sequence[int]) -> list[int]:
    cuts = [0]
    for size in sizes:
        cuts.append(cuts[-1] + size)
    return cuts


_NOT_A_LABEL: Final = (None, 0.0)


def _column_owner(label: frozenset[str], profiles: Sequence[_Profile]) -> tuple[int | None, float]:
    """Which wanted field a header's label is, and its score: one naming every word of a field;
    else a label of the vocabulary that no wanted field is (not a lone "No", a qualifier)."""
    scores = [_label_score(label, p) if _names_all(label, p) else 0.0 for p in profiles]
    best = max(scores, default=0.0)
    if best >= LABEL_THRESHOLD:
        return scores.index(best), best
    if label and label <= _VOCABULARY and label != {"number"}:
        return None, LABEL_THRESHOLD
    return _NOT_A_LABEL


def _columns(below: TextRegion | None, owners: Sequence[_Profile | None]) -> list[tuple[int, int]]:
    """Spans of the values under a header's labels, in order; fewer when the row does not split
    reliably: one word per label when the counts match, else typed values read one after the
    other (a plain string only as the last), stopping at the first that does not read."""
    if below is None or _looks_labelled(below.text):
        return []
    text = below.text
    tokens = list(_WORD.finditer(text))
    if len(tokens) == len(owners):
        return [token.span() for token in tokens]
    spans: list[tuple[int, int]] = []
    at = 0
    for i, owner in enumerate(owners):
        at = len(text) - len(text[at:].lstrip())
        read = None if owner is None else _delimited(owner, text[at:])
        if i == len(owners) - 1 and read is None and owner is not None and at < len(text.rstrip()):
            spans.append((at, len(text.rstrip())))
        if read is None:
            break
        spans.append((at + read.start, at + read.end))
        at += read.end
    return spans


def _delimited(profile: _Profile, text: str) -> _Read | None:
    """A value of the field read at the start of text by a reader that knows where it ends."""
    for reader in profile.readers:
        read = None if reader in (_STRING, _IDENTIFIER) else reader.at_start(text)
        if read is not None:
            return read
    return None


# --- finding -----------------------------------------------------------------------------------

_LEADING_MARKS: Final = " \t\u00a0:：#–—"


@dataclass(frozen=True)
class _Document:
    """The text laid out once, shared by all fields."""

    slots: Sequence[_Slot]
    sites: Sequence[_Site]
    profiles: Sequence[_Profile]
    best: Sequence[float]  # per site: the best score any wanted field gives its label
    known: frozenset[str]  # words that start a label: the vocabulary and wanted fields' names


def _best_score(words: frozenset[str], profiles: Sequence[_Profile]) -> float:
    return max((_label_score(words, p) for p in profiles), default=0.0)


def _document(regions: Sequence[TextRegion], profiles: Sequence[_Profile]) -> _Document:
    slots = _slots(regions)
    known = _VOCABULARY.union(*(p.name_words for p in profiles))
    sites = [site for slot in slots for site in _sites(slot, profiles, known)]
    best = [_best_score(site.words, profiles) for site in sites]
    return _Document(slots, sites, profiles, best, known)


def _value_span(text: str, at: int, known: frozenset[str]) -> tuple[int, int] | None:
    """The value starting at `at`: leading marks skipped, ended by the next wide gap or the
    next plain label on the line ("XJ-500 S/N 12345-ABC")."""
    while at < len(text) and text[at] in _LEADING_MARKS:
        at += 1
    gap = _GAP.search(text, at)
    end = len(text) if gap is None else gap.start()
    end = next((label for label, _ in _inner_labels(text, at, end, known)), end)
    value = text[at:end].rstrip()
    return (at, at + len(value)) if value else None


def _candidates(site: _Site, profile: _Profile, known: frozenset[str]) -> Iterator[_Candidate]:
    if site.owner is not None:
        if site.owner is profile.field and site.fixed is not None:
            yield site.fixed
        return
    region = site.slot.region
    span = _value_span(region.text, site.value_at, known)
    if span is not None:
        yield _Candidate(region, *span, SAME_LINE)
        return
    if not (site.explicit or _names_all(site.words, profile)):
        return
    for other, factor in ((site.slot.right, NEIGHBOUR), (site.slot.below, BELOW)):
        if other is None or _looks_labelled(other.text):
            continue
        span = _value_span(other.text, 0, known)
        if span is not None:
            yield _Candidate(other, *span, factor)


def _read(profile: _Profile, candidate: _Candidate, weight: float) -> FoundValue | None:
    text = candidate.region.text[candidate.start : candidate.end]
    for reader in profile.readers:
        read = reader.at_start(text)
        if read is not None:
            raw = text[read.start : read.end]
            confidence = _confidence(candidate.region, candidate.factor * weight)
            return FoundValue(profile.field.path, read.value, confidence, candidate.region, raw)
    return None


def _confidence(region: TextRegion, factor: float) -> float:
    return round(min(max(region.confidence, 0.0), 1.0) * factor, 4)


def _partial(words: frozenset[str], profile: _Profile) -> float:
    """A label naming part of the field ("Date" for ship_date) is weaker evidence."""
    return (1 + len(words & profile.name_words) / len(profile.name_words)) / 2


_Ranked = tuple[float, float, int, int]


def _labelled(profile: _Profile, doc: _Document) -> FoundValue | None:
    """The value of the best label for the field that reads as the field's type."""
    ranked: list[tuple[_Ranked, _Candidate, float]] = []
    for site, best in zip(doc.sites, doc.best, strict=True):
        score = _label_score(site.words, profile)
        # A label belongs to the wanted field it names best: "Date" is date's, not ship_date's.
        if score >= LABEL_THRESHOLD and score >= best:
            weight = _partial(site.words, profile)
            for c in _candidates(site, profile, doc.known):
                ranked.append(((-score, -c.factor, site.slot.order, -site.length), c, weight))
    ranked.sort(key=lambda entry: entry[0])
    return next((v for _, c, w in ranked if (v := _read(profile, c, w)) is not None), None)


def _label_before(slot: _Slot, start: int) -> frozenset[str]:
    """Words of the label right in front of text[start:]: one ending in ":" or "#", a label-only
    region to its left, or the plain label words before it ("Tel +1 ..."); empty when none."""
    before = slot.region.text[:start].rstrip()
    if not before and slot.left is not None:
        before = slot.left.text.rstrip()
        if not before.endswith((":", "：")) and _LABEL_WORDS_ONLY.fullmatch(before) is None:
            return frozenset()
    elif not before.endswith((":", "：", "#")):
        return _plain_before(before)
    words = _WORD.findall(before[_chunk_start(_bounds(before), len(before) - 1) :])
    return _words(" ".join(words[-4:]))


def _plain_before(before: str) -> frozenset[str]:
    """The last 1-3 label words of the last chunk of `before` ("Tel" in "Tel +1 212 ...")."""
    words = _WORD.findall(before[_chunk_start(_bounds(before), len(before)) :])
    run = list(takewhile(_LABEL_WORD.fullmatch, reversed(words)))[:3]
    return _words(" ".join(reversed(run)))


_LABEL_WORDS_ONLY: Final = re.compile(r"[^\W\d_][^\d:]{0,40}")


def _elsewhere(label: frozenset[str], profile: _Profile, doc: _Document) -> bool:
    """Whether a label says its value is a kind of thing this field is not (or is another's)."""
    if not label & _KIND_WORDS:
        return False
    score = _label_score(label, profile)
    return score < LABEL_THRESHOLD or score < _best_score(label, doc.profiles)


def _anywhere_reader(profile: _Profile) -> _Reader | None:
    return next((r for r in profile.readers if r.anywhere is not None), None)


def _unlabelled(profile: _Profile, doc: _Document, taken: set[object]) -> FoundValue | None:
    """The one distinct value of a distinctive kind in the whole text, if there is exactly one
    and it is not in `taken` (another field's, read from a label)."""
    reader = _anywhere_reader(profile)
    if reader is None or reader.anywhere is None:
        return None
    seen: dict[object, list[tuple[TextRegion, _Read]]] = {}
    for slot in doc.slots:
        for read in reader.anywhere(slot.region.text):
            if not _elsewhere(_label_before(slot, read.start), profile, doc):
                seen.setdefault(reader.key(read.value), []).append((slot.region, read))
    if len(seen) != 1 or next(iter(seen)) in taken:
        return None
    region, read = max(next(iter(seen.values())), key=lambda hit: hit[0].confidence)
    raw = region.text[read.start : read.end]
    confidence = _confidence(region, UNLABELLED)
    return FoundValue(profile.field.path, read.value, confidence, region, raw)


def _taken(
    reader: _Reader, profiles: Sequence[_Profile], labelled: Sequence[FoundValue | None]
) -> set[object]:
    """Keys of the labelled values of the fields that read values as `reader` does."""
    return {
        reader.key(value.value)
        for profile, value in zip(profiles, labelled, strict=True)
        if value is not None and any(r is reader for r in profile.readers)
    }


def _unlabelled_values(
    profiles: Sequence[_Profile], labelled: Sequence[FoundValue | None], doc: _Document
) -> list[FoundValue | None]:
    """Per field without a labelled value, its unlabelled value, settled between rivals."""
    found: list[FoundValue | None] = []
    for profile, value in zip(profiles, labelled, strict=True):
        reader = _anywhere_reader(profile)
        mine = (
            None
            if value is not None or reader is None
            else _unlabelled(profile, doc, _taken(reader, profiles, labelled))
        )
        found.append(mine)
    return [_settled(i, found, profiles) for i in range(len(found))]


def _settled(
    i: int, found: Sequence[FoundValue | None], profiles: Sequence[_Profile]
) -> FoundValue | None:
    """One unlabelled value fills one field: of the fields that would take it, the one with the
    fewest name words ("date" over "due_date"); none when that is a tie ("phone", "fax")."""
    value, reader = found[i], _anywhere_reader(profiles[i])
    if value is None or reader is None:
        return None
    key = reader.key(value.value)
    rivals = [
        len(profiles[j].name_words)
        for j, other in enumerate(found)
        if other is not None
        and _anywhere_reader(profiles[j]) is reader
        and reader.key(other.value) == key
    ]
    fewest = min(rivals)
    return value if len(profiles[i].name_words) == fewest and rivals.count(fewest) == 1 else None
