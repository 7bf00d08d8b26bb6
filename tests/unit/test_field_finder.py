"""Schema fields from OCR lines: labels, neighbours, typed values, unique patterns, no guesses."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scopix.server.domain.field_finder import (
    BELOW,
    NEIGHBOUR,
    SAME_LINE,
    UNLABELLED,
    FoundValue,
    WantedField,
    find_fields,
)
from scopix.server.domain.regions import BoundingBox, TextRegion

OCR = 0.98
ROW = 0.05  # rows 5 % of the page apart, lines 3 % high: one line per row


def region(
    text: str,
    x: float = 0.05,
    y: float = 0.05,
    w: float = 0.3,
    h: float = 0.03,
    *,
    confidence: float = OCR,
    page: int | None = None,
) -> TextRegion:
    """A region of `text` in an upright box."""
    polygon = ((x, y), (x + w, y), (x + w, y + h), (x, y + h))
    return TextRegion(text, confidence, BoundingBox(x, y, w, h), polygon, page)


def lines(*texts: str) -> list[TextRegion]:
    """One region per line, top to bottom."""
    return [region(text, y=ROW * (i + 1), w=0.8) for i, text in enumerate(texts)]


def field(
    name: str,
    *types: str,
    path: str | None = None,
    format: str | None = None,
    enum: tuple[object, ...] | None = None,
    description: str = "",
) -> WantedField:
    return WantedField(
        path=path or name,
        name=name,
        types=types or ("string",),
        description=description,
        format=format,
        enum=enum,
    )


def found(fields: Sequence[WantedField], regions: Sequence[TextRegion]) -> dict[str, FoundValue]:
    return {value.path: value for value in find_fields(fields, regions)}


def values(fields: Sequence[WantedField], regions: Sequence[TextRegion]) -> dict[str, object]:
    return {path: value.value for path, value in found(fields, regions).items()}


def value_of(wanted: WantedField, *texts: str) -> object:
    return values([wanted], lines(*texts)).get(wanted.path)


# --- a whole invoice ---------------------------------------------------------------------------

INVOICE = (
    "ACME Corp",
    "INVOICE",
    "Invoice No: INV-2024-0042",
    "Date: 2024-03-15",
    "Due Date: 2024-04-14",
    "Bill To: Globex Corp",
    "Email: billing@acme.test",
    "Widget x2  $500.00",
    "Gadget x1  $500.00",
    "Subtotal: $1,000.00",
    "Tax (8%): $80.00",
    "Total: $1,080.00",
)
INVOICE_FIELDS = (
    field("invoice_number"),
    field("date", format="date"),
    field("due_date", format="date"),
    field("total", "number"),
    field("subtotal", "number"),
    field("tax", "number"),
    field("customer"),
    field("email", path="vendor.email", format="email"),
)


def test_an_invoice_fills_its_labelled_fields() -> None:
    assert values(INVOICE_FIELDS, lines(*INVOICE)) == {
        "invoice_number": "INV-2024-0042",
        "date": "2024-03-15",
        "due_date": "2024-04-14",
        "total": 1080.0,
        "subtotal": 1000.0,
        "tax": 80.0,
        "customer": "Globex Corp",
        "vendor.email": "billing@acme.test",
    }


def test_values_keep_their_source_and_same_line_confidence() -> None:
    regions = lines(*INVOICE)
    total = found(INVOICE_FIELDS, regions)["total"]
    assert total.source is regions[INVOICE.index("Total: $1,080.00")]
    assert total.raw == "$1,080.00"
    assert total.confidence == pytest.approx(OCR * SAME_LINE, abs=1e-4)


def test_results_follow_the_order_of_the_fields() -> None:
    paths = [value.path for value in find_fields(INVOICE_FIELDS[::-1], lines(*INVOICE))]
    assert paths == [f.path for f in INVOICE_FIELDS[::-1]]


def test_subtotal_and_tax_lines_never_fill_total() -> None:
    assert value_of(field("total", "number"), "Subtotal: $1,000.00", "Tax: $80.00") is None


@pytest.mark.parametrize(
    "label", ["Total", "TOTAL", "Grand Total", "Total Due", "Amount Due", "Balance Due"]
)
def test_total_labels(label: str) -> None:
    assert value_of(field("total", "number"), "Subtotal  $10.00", f"{label}  $12.50") == 12.5


def test_grand_total_wins_over_subtotal_above_it() -> None:
    texts = ("Sub-total: $10.00", "Grand Total: $12.50")
    assert value_of(field("total", "number"), *texts) == 12.5
    assert value_of(field("sub_total", "number"), *texts) == 10.0


@pytest.mark.parametrize(
    "text",
    [
        "Invoice No: INV-1",
        "Invoice #INV-1",
        "Invoice # INV-1",
        "INVOICE NO. INV-1",
        "Invoice Number INV-1",
    ],
)
def test_invoice_number_labels(text: str) -> None:
    assert value_of(field("invoice_number"), text) == "INV-1"


def test_a_label_naming_another_thing_does_not_match() -> None:
    invoice_number = field("invoice_number")
    assert value_of(invoice_number, "Order Number: 555") is None
    assert value_of(invoice_number, "Invoice Date: 2024-03-15") is None


def test_a_label_belongs_to_the_field_it_names_best() -> None:
    fields = [field("date", format="date"), field("ship_date", format="date")]
    assert values(fields, lines("Date: 2024-03-15")) == {"date": "2024-03-15"}


def test_a_partial_label_fills_a_field_with_less_confidence() -> None:
    hit = found([field("ship_date", format="date")], lines("Date: 2024-03-15"))["ship_date"]
    assert hit.value == "2024-03-15"
    assert hit.confidence == pytest.approx(OCR * SAME_LINE * 0.75, abs=1e-4)


def test_description_words_pick_between_labels() -> None:
    texts = ("Due Date: 2024-04-14", "Invoice Date: 2024-03-15")
    assert value_of(field("date", format="date"), *texts) == "2024-04-14"  # first in order
    described = field("date", format="date", description="Date the invoice was issued")
    assert value_of(described, *texts) == "2024-03-15"


def test_parties_in_the_path_keep_vendor_and_customer_apart() -> None:
    fields = [
        field("email", path="vendor.email", format="email"),
        field("email", path="customer.email", format="email"),
    ]
    texts = ("Customer Email: buyer@globex.test", "Vendor E-mail: sales@acme.test")
    assert values(fields, lines(*texts)) == {
        "vendor.email": "sales@acme.test",
        "customer.email": "buyer@globex.test",
    }
    only_customer = values(fields[:1], lines(texts[0]))
    assert only_customer == {}


def test_numbers_and_ids_are_written_with_digits() -> None:
    assert value_of(field("customer_id"), "Customer: Globex") is None
    assert value_of(field("customer_id"), "Customer ID: GX-1") == "GX-1"


def test_camel_case_and_snake_case_names() -> None:
    assert value_of(field("invoiceNumber"), "Invoice No: 7") == "7"
    assert value_of(field("VendorName", description="seller"), "Seller: Acme") == "Acme"


# --- layout: neighbour and below ---------------------------------------------------------------


def test_label_and_value_in_separate_regions_of_one_row() -> None:
    label = region("Invoice No:", x=0.05, w=0.2)
    value = region("INV-7", x=0.4, w=0.2, confidence=0.9)
    hit = found([field("invoice_number")], [value, label])["invoice_number"]
    assert (hit.value, hit.source, hit.raw) == ("INV-7", value, "INV-7")
    assert hit.confidence == pytest.approx(0.9 * NEIGHBOUR, abs=1e-4)


def test_a_label_without_colon_that_names_the_field_takes_its_neighbour() -> None:
    regions = [region("Total", x=0.5, w=0.1), region("$99.00", x=0.7, w=0.1)]
    assert values([field("total", "number")], regions) == {"total": 99.0}


def test_value_below_the_label() -> None:
    label = region("Bill To:", x=0.1, y=0.2, w=0.2)
    value = region("Globex Corp", x=0.1, y=0.24, w=0.3)
    hit = found([field("customer")], [label, value])["customer"]
    assert (hit.value, hit.source) == ("Globex Corp", value)
    assert hit.confidence == pytest.approx(OCR * BELOW, abs=1e-4)


def test_the_neighbour_wins_over_the_region_below() -> None:
    regions = [
        region("Total:", x=0.1, y=0.2, w=0.1),
        region("$5.00", x=0.3, y=0.2, w=0.1),
        region("$7.00", x=0.1, y=0.24, w=0.1),
    ]
    assert values([field("total", "number")], regions) == {"total": 5.0}


def test_a_far_region_below_is_not_the_value() -> None:
    regions = [region("Bill To:", x=0.1, y=0.2, w=0.2), region("Globex", x=0.1, y=0.5, w=0.2)]
    assert values([field("customer")], regions) == {}


def test_a_heading_naming_part_of_the_field_takes_no_value_below() -> None:
    regions = [region("INVOICE", y=0.1), region("Acme Corp", y=0.14)]
    assert values([field("invoice_number")], regions) == {}


def test_a_region_that_is_itself_labelled_is_no_neighbour_value() -> None:
    regions = [region("Customer:", x=0.05, w=0.2), region("Date: 2024-03-15", x=0.4, w=0.3)]
    assert values([field("customer")], regions) == {}


def test_rows_never_span_pages() -> None:
    regions = [
        region("Total:", x=0.05, w=0.2, page=1),
        region("$5.00", x=0.4, w=0.2, page=2),
    ]
    assert values([field("total", "number")], regions) == {}


def test_several_pairs_on_one_line() -> None:
    fields = [field("date", format="date"), field("invoice_number"), field("vendor")]
    texts = ("Date: 2024-03-15 Invoice No: 42", "Vendor: Acme Corp    Page 1 of 2")
    assert values(fields, lines(*texts)) == {
        "date": "2024-03-15",
        "invoice_number": "42",
        "vendor": "Acme Corp",
    }


def test_a_string_running_into_another_label_is_refused() -> None:
    assert value_of(field("vendor"), "Vendor: Acme Corp Invoice No: 42") is None


# --- dates -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "2024-03-15",
        "2024/03/15",
        "2024-3-15",
        "15.03.2024",
        "15/03/2024",
        "03/15/2024",
        "15-03-2024",
        "March 15, 2024",
        "Mar. 15, 2024",
        "march 15 2024",
        "15 Mar 2024",
        "15 March, 2024",
        "15-Mar-2024",
        "15th March 2024",
    ],
)
def test_date_formats_read_as_iso(text: str) -> None:
    assert value_of(field("date", format="date"), f"Date: {text}") == "2024-03-15"


@pytest.mark.parametrize(
    "text",
    ["03/04/2024", "2024-02-30", "15/03/24", "Marc 15, 2024", "tomorrow", "2024-13-01", "20240315"],
)
def test_ambiguous_or_invalid_dates_are_not_read(text: str) -> None:
    assert value_of(field("date", format="date"), f"Date: {text}") is None


def test_equal_day_and_month_are_unambiguous() -> None:
    assert value_of(field("date", format="date"), "Date: 04/04/2024") == "2024-04-04"


def test_month_abbreviations() -> None:
    assert value_of(field("date", format="date"), "Date: Sept 15, 2024") == "2024-09-15"
    assert value_of(field("date", format="date"), "Date: 1 Dec. 2024") == "2024-12-01"


def test_a_date_field_without_format_keeps_the_text() -> None:
    assert value_of(field("invoice_date"), "Date: March 15, 2024") == "March 15, 2024"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-15 10:30", "2024-03-15T10:30:00"),
        ("2024-03-15T10:30:05Z", "2024-03-15T10:30:05Z"),
        ("2024-03-15T10:30:05.25+0100", "2024-03-15T10:30:05.25+01:00"),
        ("March 15, 2024 2:05 PM", "2024-03-15T14:05:00"),
        ("15.03.2024, 12:00 am", "2024-03-15T00:00:00"),
    ],
)
def test_date_times(text: str, expected: str) -> None:
    assert value_of(field("issued_at", format="date-time"), f"Issued: {text}") == expected


@pytest.mark.parametrize("text", ["2024-03-15", "2024-03-15 25:00", "2024-03-15 13:00 PM"])
def test_date_times_need_a_valid_time(text: str) -> None:
    assert value_of(field("issued_at", format="date-time"), f"Issued: {text}") is None


# --- numbers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1234.56", 1234.56),
        ("$1,234.56", 1234.56),
        ("1,234.56 USD", 1234.56),
        ("USD 1,234.56", 1234.56),
        ("1.234,56 €", 1234.56),
        ("€1.234,56", 1234.56),
        ("£ 99", 99.0),
        ("1'234.50", 1234.5),
        ("1 234,56 €", 1234.56),
        ("1\u202f234 567", 1234567.0),
        ("1,234,567", 1234567.0),
        ("1.234.567,8", 1234567.8),
        ("1,234", 1234.0),
        ("1,5", 1.5),
        ("1.234", 1.234),
        ("-$50.00", -50.0),
        ("$-50.00", -50.0),
        ("12 kg", 12.0),
        ("0.05", 0.05),
    ],
)
def test_amount_formats(text: str, expected: float) -> None:
    read = value_of(field("amount", "number"), f"Amount: {text}")
    assert isinstance(read, float)
    assert read == expected


@pytest.mark.parametrize(
    "text",
    [
        "abc",
        "1 23",
        "555 123 4567",
        "12,34,567",
        "1.2.3",
        "1,234.5,6",
        "12kg",
        "2024-03-15",
        "INV-12",
        "1" * 30,
    ],
)
def test_values_that_are_no_number_are_not_read(text: str) -> None:
    assert value_of(field("amount", "number"), f"Amount: {text}") is None


def test_integer_versus_number() -> None:
    assert value_of(field("quantity", "integer"), "Quantity: 12") == 12
    assert isinstance(value_of(field("quantity", "integer"), "Quantity: 12"), int)
    assert value_of(field("quantity", "integer"), "Quantity: 1,200") == 1200
    assert value_of(field("quantity", "integer"), "Quantity: 12.00") == 12
    assert value_of(field("quantity", "integer"), "Quantity: 12.5") is None
    assert isinstance(value_of(field("quantity", "number"), "Quantity: 12"), float)
    either = field("quantity", "integer", "number")
    assert value_of(either, "Quantity: 12.5") == 12.5
    assert isinstance(value_of(either, "Quantity: 12"), int)


def test_integer_or_string_falls_back_to_the_text() -> None:
    assert value_of(field("count", "integer", "string"), "Count: twelve") == "twelve"


# --- emails, phones, web addresses -------------------------------------------------------------


def test_an_unlabelled_unique_email_fills_with_lower_confidence() -> None:
    regions = lines("ACME Corp", "Questions? Write to billing@acme.test.")
    hit = found([field("email", format="email")], regions)["email"]
    assert (hit.value, hit.source, hit.raw) == (
        "billing@acme.test",
        regions[1],
        "billing@acme.test",
    )
    assert hit.confidence == pytest.approx(OCR * UNLABELLED, abs=1e-4)


def test_the_same_email_twice_is_still_unambiguous() -> None:
    texts = ("billing@acme.test", "Contact BILLING@acme.test")
    assert value_of(field("email", format="email"), *texts) == "billing@acme.test"


def test_two_different_emails_are_ambiguous() -> None:
    texts = ("billing@acme.test", "sales@acme.test")
    assert value_of(field("email", format="email"), *texts) is None


def test_an_email_field_found_by_name_alone() -> None:
    assert value_of(field("contact_email"), "Reach us: ops@acme.test") == "ops@acme.test"


def test_an_email_label_with_no_email_after_it_reads_nothing() -> None:
    assert value_of(field("email", format="email"), "Email: none") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Tel: +1 (555) 123-4567", "+1 (555) 123-4567"),
        ("Phone: 555-1234", "555-1234"),
        ("Telephone 030 1234 5678", "030 1234 5678"),
    ],
)
def test_labelled_phones(text: str, expected: str) -> None:
    assert value_of(field("phone"), text) == expected


@pytest.mark.parametrize("text", ["Phone: 12345", "Phone: call us", "Phone: 2024-03-15"])
def test_phones_need_seven_digits_and_no_date(text: str) -> None:
    assert value_of(field("phone"), text) is None


def test_an_unlabelled_unique_phone() -> None:
    hit = found([field("phone")], lines("Call +1 (555) 123-4567 today"))["phone"]
    assert hit.value == "+1 (555) 123-4567"
    assert hit.confidence == pytest.approx(OCR * UNLABELLED, abs=1e-4)


def test_two_different_phones_are_ambiguous() -> None:
    assert value_of(field("phone"), "Call +1 555 123 4567", "or +1 555 765 4321") is None


def test_invoice_numbers_and_amounts_are_no_unlabelled_phones() -> None:
    assert value_of(field("phone"), "INV 2024-0042", "Total 1 234 567,89", "2024-03-15") is None


def test_a_value_labelled_as_another_kind_is_not_taken_unlabelled() -> None:
    assert value_of(field("phone"), "Fax: +1 555 123 4567") is None
    assert value_of(field("ship_date", format="date"), "Due Date: 2024-04-14") is None
    assert value_of(field("ship_date", format="date"), "Shipped 2024-04-14") == "2024-04-14"


def test_unlabelled_dates_must_be_unique() -> None:
    texts = ("Printed 2024-03-15", "Valid until 2024-04-15")
    assert value_of(field("ship_date", format="date"), *texts) is None


def test_web_addresses() -> None:
    uri = field("link", format="uri")
    assert value_of(uri, "Link: https://acme.test/invoices/42.") == "https://acme.test/invoices/42"
    assert value_of(uri, "Link: www.acme.test") is None
    assert value_of(field("website"), "Web: www.acme.test") == "www.acme.test"
    assert value_of(uri, "Pay online at https://pay.acme.test") == "https://pay.acme.test"


# --- enums and booleans ------------------------------------------------------------------------


def test_enum_values_only_when_the_text_equals_a_member() -> None:
    status = field("status", enum=("paid", "unpaid"))
    assert value_of(status, "Status: PAID") == "paid"
    assert value_of(status, "Status: Paid.") == "paid"
    assert value_of(status, "Status: paid in full") is None
    assert value_of(status, "Status: overdue") is None
    assert value_of(field("priority", "integer", enum=(1, 2, 3)), "Priority: 2") == 2


def test_booleans_only_from_explicit_words() -> None:
    paid = field("paid", "boolean")
    assert value_of(paid, "Paid: Yes") is True
    assert value_of(paid, "Paid: no") is False
    assert value_of(paid, "Paid: TRUE") is True
    assert value_of(paid, "Paid: maybe") is None
    assert value_of(paid, "Paid: no payment received") is None


# --- nameplates and unsupported fields ---------------------------------------------------------


def test_a_nameplate() -> None:
    fields = [field("model"), field("serial_number"), field("voltage", "number")]
    texts = ("ACME INDUSTRIAL", "MODEL: XR-200", "S/N 12345-ABC", "VOLTAGE 230 V")
    assert values(fields, lines(*texts)) == {
        "model": "XR-200",
        "serial_number": "12345-ABC",
        "voltage": 230.0,
    }


@pytest.mark.parametrize("text", ["Type: XR-200", "Mod. XR-200", "model XR-200"])
def test_model_synonyms(text: str) -> None:
    assert value_of(field("model"), text) == "XR-200"


def test_a_field_nothing_supports_is_absent() -> None:
    fields = [
        field("notes"),
        field("po_number"),
        field("items", "array"),
        field("amount", "number"),
    ]
    assert values(fields, lines(*INVOICE)) == {}


def test_an_array_field_is_never_filled() -> None:
    assert value_of(field("items", "array"), "Items: a, b") is None


def test_no_regions_no_values() -> None:
    assert find_fields(INVOICE_FIELDS, []) == []


# --- properties --------------------------------------------------------------------------------

PROPERTY_FIELDS = (
    field("name"),
    field("total", "number"),
    field("quantity", "integer"),
    field("paid", "boolean"),
    field("date", format="date"),
    field("issued_at", format="date-time"),
    field("email", format="email"),
    field("phone"),
    field("website", format="uri"),
    field("status", enum=("paid", "open")),
)
FRAGMENTS = (
    "Name:",
    "Total",
    "Quantity",
    "Paid:",
    "Date",
    "Issued",
    "Email:",
    "Tel",
    "Website:",
    "Status",
    "#",
    ":",
    "  ",
    "yes",
    "paid",
    "$1,234.56",
    "1.234,5",
    "-7",
    "2024-03-15",
    "15 Mar 2024",
    "10:30",
    "a@b.io",
    "+1 (555) 123-4567",
    "https://x.io/a",
    "0",
    "99",
)
LINE = st.one_of(
    st.text(max_size=30),
    st.lists(st.sampled_from(FRAGMENTS), max_size=6).map(" ".join),
)
PLACED = st.builds(
    region,
    LINE,
    x=st.floats(0, 0.9),
    y=st.floats(0, 0.95),
    w=st.floats(0.01, 0.5),
    h=st.floats(0.005, 0.05),
    confidence=st.floats(0, 1),
    page=st.sampled_from([None, 1, 2]),
)


def _digits(text: str) -> str:
    return re.sub(r"[^0-9]", "", text)


def _significant(text: str) -> str:
    return _digits(text).strip("0")


def assert_read_from_text(hit: FoundValue, regions: Sequence[TextRegion]) -> None:
    """The value is the raw slice of its source region's text, typed and nothing more."""
    assert hit.source is not None and hit.source in regions
    assert hit.raw and hit.raw in hit.source.text
    assert 0 <= hit.confidence <= 1
    value, raw = hit.value, hit.raw
    if hit.path in ("total", "quantity"):
        assert isinstance(value, float | int) and not isinstance(value, bool)
        assert _significant(format(Decimal(repr(value)), "f")) == _significant(raw)
    elif hit.path == "paid":
        assert value is (raw.lower() in ("yes", "true"))
    elif hit.path in ("date", "issued_at"):
        assert isinstance(value, str)
        assert str(date.fromisoformat(value[:10]).year) in raw
    elif hit.path == "status":
        assert str(value).casefold() == raw.casefold()
    else:
        assert value == raw


@settings(max_examples=300, deadline=None)
@given(st.lists(PLACED, max_size=10))
def test_values_are_always_read_from_region_text(regions: list[TextRegion]) -> None:
    for hit in find_fields(PROPERTY_FIELDS, regions):
        assert_read_from_text(hit, regions)


@settings(max_examples=100, deadline=None)
@given(st.lists(LINE, max_size=10))
def test_lines_of_text_never_raise(texts: list[str]) -> None:
    regions = lines(*texts)
    for hit in find_fields(PROPERTY_FIELDS, regions):
        assert_read_from_text(hit, regions)


@settings(max_examples=50, deadline=None)
@given(st.lists(PLACED, max_size=8).flatmap(lambda rs: st.tuples(st.just(rs), st.permutations(rs))))
def test_the_order_of_regions_does_not_matter(
    regions_and_shuffled: tuple[list[TextRegion], list[TextRegion]],
) -> None:
    regions, shuffled = regions_and_shuffled
    assert find_fields(PROPERTY_FIELDS, shuffled) == find_fields(PROPERTY_FIELDS, regions)


MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def spelled(day: date, style: int) -> str:
    """`day` in one of the unambiguous forms the finder reads."""
    y, m, d = f"{day.year:04d}", day.month, day.day
    month = MONTH_NAMES[m - 1]
    return (
        f"{y}-{m:02d}-{d:02d}",
        f"{y}/{m}/{d}",
        f"{d:02d}.{m:02d}.{y}",
        f"{month} {d}, {y}",
        f"{d} {month[:3]} {y}",
        f"{d}-{month[:3]}-{y}",
    )[style]


@given(
    st.sampled_from(["Date", "Invoice Date", "Dated", "Issued", "DATE", "Issue date"]),
    st.dates(min_value=date(1000, 1, 1)),
    st.integers(0, 5),
    st.sampled_from(["same line", "neighbour", "below"]),
)
def test_labelled_dates_round_trip(label: str, day: date, style: int, place: str) -> None:
    text = spelled(day, style)
    if place == "same line":
        regions = [region(f"{label}: {text}")]
    elif place == "neighbour":
        regions = [region(f"{label}:", x=0.05, w=0.2), region(text, x=0.4, w=0.3)]
    else:
        regions = [region(f"{label}:", y=0.1), region(text, y=0.14)]
    hit = found([field("invoice_date", format="date")], regions)["invoice_date"]
    assert hit.value == day.isoformat()
    assert hit.source is not None and hit.raw in hit.source.text


# --- cases from the labeled set (bench/extraction.py) ------------------------------------------


def test_a_date_taken_by_a_label_is_no_unlabelled_due_date() -> None:
    regions = [
        region("Invoice No.", x=0.06, y=0.39, w=0.1, h=0.02),
        region("Date", x=0.38, y=0.39, w=0.05, h=0.02),
        region("INV-2024-0107", x=0.06, y=0.45, w=0.18, h=0.02),
        region("March 15, 2024", x=0.38, y=0.45, w=0.19, h=0.03),
    ]
    fields = [field("date", format="date"), field("due_date", format="date")]
    assert values(fields, regions) == {"date": "2024-03-15"}


def test_a_date_taken_by_a_label_still_makes_other_dates_ambiguous() -> None:
    regions = [
        region("Start Date", y=0.6, w=0.2),
        region("1 Apr 2024", y=0.66, w=0.2),
        region("Signed on 15 March 2024", y=0.88, w=0.3),
    ]
    fields = [field("start_date", format="date"), field("end_date", format="date")]
    assert values(fields, regions) == {"start_date": "2024-04-01"}


LETTERHEAD = (
    "Fabrikam Legal LLP",
    "Tel +1 212 555 0199 www.fabrikam-legal.example",
    "March 15, 2024",
)


def test_one_unlabelled_value_fills_the_plainest_field_only() -> None:
    fields = [field("date", format="date"), field("due_date", format="date")]
    assert values(fields, lines(*LETTERHEAD)) == {"date": "2024-03-15"}


def test_a_plain_label_claims_its_value_for_its_kind() -> None:
    both = [field("phone"), field("fax")]
    assert values(both, lines(*LETTERHEAD)) == {"phone": "+1 212 555 0199"}
    assert value_of(field("fax"), *LETTERHEAD) is None
    assert value_of(field("due_date", format="date"), "Invoice Date 2024-03-15") is None


def test_a_string_ends_where_the_next_plain_label_starts() -> None:
    fields = [field("model"), field("serial_number")]
    assert values(fields, lines("MODEL: XJ-500 S/N 12345-ABC")) == {
        "model": "XJ-500",
        "serial_number": "12345-ABC",
    }


def test_label_words_in_prose_are_no_label() -> None:
    text = "Your bill of 1.234,56 € dated 1 March 2024 is still open."
    assert value_of(field("date", format="date"), "15 Mar 2024", text) is None


def header(labels: str, row: str) -> list[TextRegion]:
    return [region(labels, y=0.2, w=0.5), region(row, y=0.26, w=0.5)]


def test_a_header_row_splits_its_values_by_order_when_the_counts_match() -> None:
    fields = [field("model"), field("serial_number")]
    assert values(fields, header("TYPE SERIAL NO.", "PX-2200 0098-7731")) == {
        "model": "PX-2200",
        "serial_number": "0098-7731",
    }


def test_a_header_row_reads_typed_values_one_after_the_other() -> None:
    fields = [field("start_date", format="date"), field("newsletter", "boolean")]
    assert values(fields, header("Start Date Newsletter", "1 Apr 2024 No")) == {
        "start_date": "2024-04-01",
        "newsletter": False,
    }


def test_a_header_row_that_does_not_split_reliably_fills_nothing() -> None:
    regions = header("Company Name Customer ID", "Tanaka Design KK C-004417")
    assert values([field("company_name"), field("customer_id")], regions) == {}
    assert values([field("company_name")], regions) == {}


def test_a_label_with_a_qualifier_is_no_header_row() -> None:
    assert values([field("model")], header("Model No.", "XR-200")) == {"model": "XR-200"}
    fields = [field("invoice_number"), field("date", format="date")]
    assert values(fields, header("Invoice Date", "2024-03-15")) == {"date": "2024-03-15"}
