"""The labeled extraction set in tests/assets/extraction/: generated pages of five classes, each
beside `<name>.truth.json` = {"class", "schema", "data"}, where `data` holds the values an
extraction must read from the image and null for every field the image does not show.

    .venv/bin/python tests/extractionset.py [--check]

Deterministic: no randomness, text rendered by libvips (Pango) in the DejaVu fonts of Debian's
fonts-dejavu-core, as `imagefactory.invoice_png()` draws `invoice.png` (that image and its truth
are not written here). The files are committed, so the bench and tests never need the fonts;
rerun this only to change the set, and say so in SOURCES.md. `--check` writes nothing and exits 1
when a file would change.

What varies (bench/extraction.py reports it per class and per kind of field): where a value sits
(after its label on the same line, in a column to the right, on the line below), the date formats
(2024-03-15, 15/03/2024, March 15, 2024, 15 Mar 2024), the amounts ($1,234.56, 1.234,56 €,
1 234,56), emails, phones and web addresses, ids (INV-..., S/N ...), enums and booleans, and
distractors: Subtotal and Tax near Total, issue and due dates, a vendor's and a customer's email.
Every schema asks for at least two fields the image does not show (null in the truth): a value
found for one of those is invented.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyvips

OUT = Path(__file__).resolve().parent / "assets" / "extraction"

Truth = dict[str, Any]


@dataclass(frozen=True)
class Text:
    """One run of text: where it starts (`x` is its left edge, or its right edge or middle as
    `align` says), its top and its font (the page's when empty)."""

    text: str
    x: int
    y: int
    font: str = ""
    align: str = "left"  # or "right", "center"


def page(
    width: int,
    height: int,
    texts: list[Text],
    *,
    font: str,
    paper: int = 255,
    ink: int = 0,
    boxes: tuple[tuple[int, int, int, int], ...] = (),
) -> bytes:
    """A one-band PNG: `texts` drawn in `ink` on `paper`, and the outlines of `boxes` (x, y, w,
    h) in grey."""
    image = (pyvips.Image.black(width, height) + paper).cast("uchar")
    for box in boxes:
        image = image.draw_rect(160, *box, fill=False)
    for run in texts:
        mask = pyvips.Image.text(run.text, font=run.font or font, dpi=72)
        shift = {"left": 0, "center": mask.width // 2, "right": mask.width}[run.align]
        left = run.x - shift
        image = image.insert((paper - mask * ((paper - ink) / 255)).cast("uchar"), left, run.y)
    return bytes(image.cast("uchar").pngsave_buffer(compression=9))


def schema(**properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": properties}


STRING = {"type": "string"}
DATE = {"type": "string", "format": "date"}
EMAIL = {"type": "string", "format": "email"}
NUMBER = {"type": "number"}
INTEGER = {"type": "integer"}
BOOLEAN = {"type": "boolean"}


def described(kind: dict[str, Any], description: str) -> dict[str, Any]:
    return {**kind, "description": description}


def truth(kind: str, fields: dict[str, Any], data: dict[str, Any]) -> Truth:
    return {"class": kind, "schema": schema(**fields), "data": data}


# -- invoice ------------------------------------------------------------------------------------


def invoice_columns() -> tuple[bytes, Truth]:
    """Labels in a left column, values in a right one; European dates and amounts; the vendor's
    and the customer's email, each labelled; a subtotal and VAT above the total."""
    rows = [
        ("Invoice Number", "INV-88213"),
        ("Issue Date", "15/03/2024"),
        ("Due Date", "14/04/2024"),
        ("Customer", "Contoso Ltd"),
        ("Subtotal", "1.034,50 €"),
        ("VAT (19%)", "196,56 €"),
        ("Total", "1.231,06 €"),
    ]
    texts = [
        Text("Northwind Traders GmbH", 60, 40, "sans bold 32"),
        Text("Hafenstrasse 12, 20457 Hamburg", 60, 90),
        Text("INVOICE", 60, 150, "sans bold 30"),
    ]
    for i, (label, value) in enumerate(rows):
        top = 220 + 45 * i + (30 if i >= 4 else 0)
        texts += [Text(label, 60, top), Text(value, 420, top)]
    texts += [
        Text("Vendor email: billing@northwind.example", 60, 600),
        Text("Customer email: ap@contoso.example", 60, 645),
    ]
    image = page(1000, 720, texts, font="sans 24")
    fields = {
        "invoice_number": STRING,
        "issue_date": DATE,
        "due_date": DATE,
        "customer_name": STRING,
        "total": described(NUMBER, "the amount due"),
        "vendor_email": EMAIL,
        "customer_email": EMAIL,
        "purchase_order": described(STRING, "the buyer's PO number"),
        "paid": BOOLEAN,
    }
    data = {
        "invoice_number": "INV-88213",
        "issue_date": "2024-03-15",
        "due_date": "2024-04-14",
        "customer_name": "Contoso Ltd",
        "total": 1231.06,
        "vendor_email": "billing@northwind.example",
        "customer_email": "ap@contoso.example",
        "purchase_order": None,
        "paid": None,
    }
    return image, truth("invoice", fields, data)


def invoice_stacked() -> tuple[bytes, Truth]:
    """A header row of labels with the values below them; a US date and amounts; a line-item
    table whose subtotal and tax sit under the amount due; one date only (no due date)."""
    texts = [
        Text("Blue Harbor Analytics Inc.", 60, 40, "sans bold 30"),
        Text("500 Bay Street, Suite 12, San Francisco, CA 94133", 60, 90),
        Text("Tel: +1 (415) 555-0142", 60, 125),
        Text("www.blueharbor.example", 560, 125),
        Text("INVOICE", 60, 190, "sans bold 28"),
        Text("Invoice No.", 60, 260),
        Text("Date", 380, 260),
        Text("Amount Due", 700, 260),
        Text("INV-2024-0107", 60, 295, "sans bold 22"),
        Text("March 15, 2024", 380, 295, "sans bold 22"),
        Text("$2,450.00", 700, 295, "sans bold 22"),
        Text("Description", 60, 390),
        Text("Qty", 560, 390),
        Text("Amount", 900, 390, align="right"),
    ]
    items = [
        ("Data pipeline audit", "1", "$1,800.00"),
        ("Support hours", "3", "$450.00"),
        ("Subtotal", "", "$2,250.00"),
        ("Tax", "", "$200.00"),
    ]
    for i, (what, qty, amount) in enumerate(items):
        top = 435 + 40 * i + (20 if i >= 2 else 0)
        texts += [Text(what, 60, top), Text(amount, 900, top, align="right")]
        if qty:
            texts.append(Text(qty, 560, top))
    image = page(1000, 660, texts, font="sans 20")
    fields = {
        "invoice_number": STRING,
        "date": DATE,
        "due_date": DATE,
        "total": described(NUMBER, "the amount due"),
        "phone": STRING,
        "website": STRING,
        "customer_email": EMAIL,
    }
    data = {
        "invoice_number": "INV-2024-0107",
        "date": "2024-03-15",
        "due_date": None,
        "total": 2450.0,
        "phone": "+1 (415) 555-0142",
        "website": "www.blueharbor.example",
        "customer_email": None,
    }
    return image, truth("invoice", fields, data)


# -- receipt ------------------------------------------------------------------------------------


def receipt_cafe() -> tuple[bytes, Truth]:
    """A narrow till receipt in a monospace font, prices right-aligned; the date stands alone
    with a time; "Receipt #"; "TOTAL" under Subtotal and VAT."""
    texts = [
        Text("GREEN BEAN CAFE", 280, 30, "monospace bold 26", "center"),
        Text("12 Market Street, London", 280, 75, align="center"),
        Text("Tel 020 7946 0321", 280, 105, align="center"),
        Text("Receipt # 004512", 40, 170),
        Text("15 Mar 2024 14:32", 40, 205),
    ]
    lines = [
        ("Flat white", "3.40"),
        ("Croissant", "2.60"),
        ("Oat cookie x2", "4.00"),
        ("Subtotal", "10.00"),
        ("VAT 20%", "2.00"),
        ("TOTAL", "12.00"),
    ]
    for i, (what, amount) in enumerate(lines):
        top = 270 + 35 * i + (25 if i >= 3 else 0) + (15 if i >= 5 else 0)
        font = "monospace bold 20" if what == "TOTAL" else ""
        texts += [Text(what, 40, top, font), Text(amount, 520, top, font, align="right")]
    texts += [Text("Paid: Card", 40, 560), Text("Thank you!", 200, 620)]
    image = page(560, 680, texts, font="monospace 20", paper=248)
    fields = {
        "receipt_number": STRING,
        "date": DATE,
        "total": NUMBER,
        "payment_method": {"type": "string", "enum": ["Cash", "Card", "Voucher"]},
        "phone": STRING,
        "cashier": STRING,
        "tip": NUMBER,
        "customer_email": EMAIL,
    }
    data = {
        "receipt_number": "004512",
        "date": "2024-03-15",
        "total": 12.0,
        "payment_method": "Card",
        "phone": "020 7946 0321",
        "cashier": None,
        "tip": None,
        "customer_email": None,
    }
    return image, truth("receipt", fields, data)


def receipt_hardware() -> tuple[bytes, Truth]:
    """Labelled header lines, then item and total rows with right-aligned amounts grouped by a
    space and a decimal comma (1 234,56); an item count; a yes/no; an unlabelled email."""
    texts = [
        Text("TOOL BARN", 40, 30, "sans bold 30"),
        Text("Receipt No: R-20240315-07", 40, 95),
        Text("Date: 2024-03-15", 40, 130),
        Text("Items: 3", 40, 165),
    ]
    lines = [
        ("Cordless drill", "899,00"),
        ("Saw blade set", "142,18"),
        ("Work gloves", "100,00"),
        ("Subtotal", "1 141,18"),
        ("Tax", "93,38"),
        ("Total", "1 234,56"),
    ]
    for i, (what, amount) in enumerate(lines):
        top = 230 + 38 * i + (25 if i >= 3 else 0)
        texts += [Text(what, 40, top), Text(amount, 660, top, align="right")]
    texts += [
        Text("Card payment: Yes", 40, 510),
        Text("Questions? help@toolbarn.example", 40, 560),
    ]
    image = page(700, 620, texts, font="sans 22")
    fields = {
        "receipt_number": STRING,
        "date": DATE,
        "items": described(INTEGER, "how many items were bought"),
        "total": NUMBER,
        "card_payment": BOOLEAN,
        "support_email": EMAIL,
        "cashier": STRING,
        "change": described(NUMBER, "change given back"),
    }
    data = {
        "receipt_number": "R-20240315-07",
        "date": "2024-03-15",
        "items": 3,
        "total": 1234.56,
        "card_payment": True,
        "support_email": "help@toolbarn.example",
        "cashier": None,
        "change": None,
    }
    return image, truth("receipt", fields, data)


# -- nameplate ----------------------------------------------------------------------------------


def nameplate_motor() -> tuple[bytes, Truth]:
    """A grey motor plate: two "label: value" pairs per row, "S/N" without a colon, units after
    the numbers, a date of manufacture."""
    texts = [
        Text("VOLTARA ELECTRIC MOTORS", 40, 30, "sans bold 28"),
        Text("MODEL: XJ-500", 40, 100),
        Text("S/N 12345-ABC", 430, 100),
        Text("Voltage: 230 V", 40, 150),
        Text("Frequency: 50 Hz", 430, 150),
        Text("Power: 1.5 kW", 40, 200),
        Text("Speed: 1450 rpm", 430, 200),
        Text("Date of Manufacture: 2023-11-02", 40, 250),
        Text("IP55    Made in Portugal", 40, 300),
    ]
    image = page(800, 360, texts, font="sans bold 22", paper=214, ink=20)
    fields = {
        "model": STRING,
        "serial_number": STRING,
        "voltage": NUMBER,
        "frequency": INTEGER,
        "power": described(NUMBER, "rated power in kW"),
        "speed": described(INTEGER, "rated speed in rpm"),
        "manufacture_date": DATE,
        "weight": described(NUMBER, "weight in kg"),
        "current": described(NUMBER, "rated current in A"),
    }
    data = {
        "model": "XJ-500",
        "serial_number": "12345-ABC",
        "voltage": 230,
        "frequency": 50,
        "power": 1.5,
        "speed": 1450,
        "manufacture_date": "2023-11-02",
        "weight": None,
        "current": None,
    }
    return image, truth("nameplate", fields, data)


def nameplate_pump() -> tuple[bytes, Truth]:
    """A pump plate of capitals: labels in a row, values below each; a decimal comma; an
    unlabelled URL and a phone after a label that names no kind ("Service:")."""
    grid = [
        (("TYPE", "PX-2200"), ("SERIAL NO.", "0098-7731"), ("YEAR", "2022")),
        (("FLOW", "12.5 m3/h"), ("HEAD", "32 m"), ("POWER", "2,2 kW")),
    ]
    texts = [Text("KELVIN PUMPS", 40, 30, "sans bold 30")]
    for r, row in enumerate(grid):
        for c, (label, value) in enumerate(row):
            left, top = 40 + 300 * c, 100 + 110 * r
            texts += [Text(label, left, top, "sans 18"), Text(value, left, top + 35)]
    texts += [
        Text("Service: +49 30 1234 5678", 40, 340, "sans 20"),
        Text("https://kelvin-pumps.example/support", 40, 380, "sans 20"),
    ]
    image = page(900, 440, texts, font="sans bold 24", paper=232, ink=30)
    fields = {
        "model": STRING,
        "serial_number": STRING,
        "year": INTEGER,
        "flow_rate": described(NUMBER, "m3/h"),
        "power": described(NUMBER, "kW"),
        "service_phone": STRING,
        "support_url": {"type": "string", "format": "uri"},
        "voltage": NUMBER,
        "manufacture_date": DATE,
    }
    data = {
        "model": "PX-2200",
        "serial_number": "0098-7731",
        "year": 2022,
        "flow_rate": 12.5,
        "power": 2.2,
        "service_phone": "+49 30 1234 5678",
        "support_url": "https://kelvin-pumps.example/support",
        "voltage": None,
        "manufacture_date": None,
    }
    return image, truth("nameplate", fields, data)


# -- form ---------------------------------------------------------------------------------------


def form_membership() -> tuple[bytes, Truth]:
    """Lines of "label: value": a name, a day-first date of birth, an enum, a "No", a start date
    and a signature date; the schema also asks for an emergency phone the form lacks."""
    lines = [
        "Full Name: Jane Q. Doe",
        "Date of Birth: 22/07/1988",
        "Email: jane.doe@example.org",
        "Phone: (555) 010-4477",
        "Membership Plan: Premium",
        "Existing Member: No",
        "Start Date: 1 Apr 2024",
    ]
    texts = [Text("CITY SPORTS CLUB - MEMBERSHIP APPLICATION", 60, 40, "sans bold 26")]
    texts += [Text(line, 60, 120 + 50 * i) for i, line in enumerate(lines)]
    texts += [Text("Signed: J. Doe", 60, 520), Text("Date: 15 Mar 2024", 520, 520)]
    image = page(1000, 590, texts, font="sans 24")
    fields = {
        "full_name": STRING,
        "date_of_birth": DATE,
        "email": EMAIL,
        "phone": STRING,
        "plan": {"type": "string", "enum": ["Basic", "Standard", "Premium"]},
        "existing_member": BOOLEAN,
        "start_date": DATE,
        "employer": STRING,
        "emergency_contact_phone": STRING,
    }
    data = {
        "full_name": "Jane Q. Doe",
        "date_of_birth": "1988-07-22",
        "email": "jane.doe@example.org",
        "phone": "(555) 010-4477",
        "plan": "Premium",
        "existing_member": False,
        "start_date": "2024-04-01",
        "employer": None,
        "emergency_contact_phone": None,
    }
    return image, truth("form", fields, data)


def form_registration() -> tuple[bytes, Truth]:
    """Boxes with the label at the top and the value under it, two boxes a row; a signature date
    under them is a second date."""
    cells = [
        ("Company Name", "Tanaka Design KK"),
        ("Customer ID", "C-004417"),
        ("Email Address", "k.tanaka@example.jp"),
        ("Website", "https://tanaka-design.example.com"),
        ("Start Date", "1 Apr 2024"),
        ("Newsletter", "No"),
    ]
    texts = [Text("CLIENT REGISTRATION FORM", 40, 30, "sans bold 28")]
    boxes = []
    for i, (label, value) in enumerate(cells):
        left, top = 40 + 480 * (i % 2), 100 + 110 * (i // 2)
        boxes.append((left - 10, top - 10, 460, 95))
        texts += [Text(label, left, top, "sans 18"), Text(value, left, top + 35)]
    texts.append(Text("Signed on 15 March 2024", 40, 460, "sans 20"))
    image = page(1000, 520, texts, font="sans 24", boxes=tuple(boxes))
    fields = {
        "company_name": STRING,
        "customer_id": STRING,
        "email": EMAIL,
        "website": {"type": "string", "format": "uri"},
        "start_date": DATE,
        "newsletter": BOOLEAN,
        "phone": STRING,
        "end_date": DATE,
    }
    data = {
        "company_name": "Tanaka Design KK",
        "customer_id": "C-004417",
        "email": "k.tanaka@example.jp",
        "website": "https://tanaka-design.example.com",
        "start_date": "2024-04-01",
        "newsletter": False,
        "phone": None,
        "end_date": None,
    }
    return image, truth("form", fields, data)


# -- letter -------------------------------------------------------------------------------------


def letter_notice() -> tuple[bytes, Truth]:
    """A letterhead with a phone after "Tel" (no colon) and a www address, the date alone on its
    line, a "Reference:", an amount and an email inside the prose; no fax."""
    texts = [
        Text("Fabrikam Legal LLP", 60, 40, "serif bold 28"),
        Text("200 Park Avenue, New York, NY 10166", 60, 85),
        Text("Tel +1 212 555 0199", 60, 115),
        Text("www.fabrikam-legal.example", 560, 115),
        Text("March 15, 2024", 60, 190),
        Text("Ms. Dana Whitfield", 60, 250),
        Text("Whitfield Bakery", 60, 280),
        Text("Reference: FC-2291", 60, 330),
        Text("Dear Ms. Whitfield,", 60, 390),
    ]
    body = [
        "We write regarding the outstanding balance of $12,500.00 under",
        "contract FC-2291. Please arrange payment within 30 days of this",
        "letter. Questions may be sent to d.okafor@fabrikam-legal.example.",
    ]
    texts += [Text(line, 60, 440 + 32 * i) for i, line in enumerate(body)]
    texts += [Text("Sincerely,", 60, 560), Text("Daniel Okafor", 60, 600)]
    image = page(1000, 660, texts, font="serif 20")
    fields = {
        "date": DATE,
        "reference_number": STRING,
        "amount": described(NUMBER, "the outstanding balance"),
        "contact_email": EMAIL,
        "phone": STRING,
        "website": STRING,
        "due_date": DATE,
        "fax": STRING,
    }
    data = {
        "date": "2024-03-15",
        "reference_number": "FC-2291",
        "amount": 12500.0,
        "contact_email": "d.okafor@fabrikam-legal.example",
        "phone": "+1 212 555 0199",
        "website": "www.fabrikam-legal.example",
        "due_date": None,
        "fax": None,
    }
    return image, truth("letter", fields, data)


def letter_reminder() -> tuple[bytes, Truth]:
    """A payment reminder with three dates (the letter's, the bill's, the deadline), an account
    number, a contact line holding an email and a phone; no website, no reference."""
    texts = [
        Text("Contoso Utilities", 60, 40, "serif bold 28"),
        Text("support@contoso-utilities.example", 60, 90),
        Text("+44 20 7946 0958", 600, 90),
        Text("15 Mar 2024", 60, 160),
        Text("Account No: 7781-4420", 60, 210),
        Text("Dear customer,", 60, 270),
    ]
    body = [
        "Your bill of 1.234,56 € dated 1 March 2024 is still open.",
        "Please pay by 30 April 2024 to avoid a late fee of 25,00 €.",
    ]
    texts += [Text(line, 60, 320 + 32 * i) for i, line in enumerate(body)]
    texts += [Text("Kind regards,", 60, 420), Text("Billing Team", 60, 460)]
    image = page(1000, 520, texts, font="serif 20")
    fields = {
        "date": described(DATE, "the date of the letter"),
        "account_number": STRING,
        "amount_due": NUMBER,
        "due_date": described(DATE, "pay by this date"),
        "email": EMAIL,
        "phone": STRING,
        "website": STRING,
        "reference_number": STRING,
    }
    data = {
        "date": "2024-03-15",
        "account_number": "7781-4420",
        "amount_due": 1234.56,
        "due_date": "2024-04-30",
        "email": "support@contoso-utilities.example",
        "phone": "+44 20 7946 0958",
        "website": None,
        "reference_number": None,
    }
    return image, truth("letter", fields, data)


GENERATORS: dict[str, Callable[[], tuple[bytes, Truth]]] = {
    "invoice_columns": invoice_columns,
    "invoice_stacked": invoice_stacked,
    "receipt_cafe": receipt_cafe,
    "receipt_hardware": receipt_hardware,
    "nameplate_motor": nameplate_motor,
    "nameplate_pump": nameplate_pump,
    "form_membership": form_membership,
    "form_registration": form_registration,
    "letter_notice": letter_notice,
    "letter_reminder": letter_reminder,
}


def files() -> dict[Path, bytes]:
    """Every file of the generated set, by path."""
    out: dict[Path, bytes] = {}
    for name, generate in GENERATORS.items():
        image, labels = generate()
        out[OUT / f"{name}.png"] = image
        text = json.dumps(labels, indent=2, ensure_ascii=False) + "\n"
        out[OUT / f"{name}.truth.json"] = text.encode()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 on a change")
    check = parser.parse_args().check
    changed = []
    for path, content in files().items():
        if path.exists() and path.read_bytes() == content:
            continue
        changed.append(path.name)
        if not check:
            path.write_bytes(content)
    verb = "would change" if check else "written"
    print(f"{len(changed)} files {verb}: {', '.join(changed) or 'none'}")
    if check and changed:
        sys.exit(1)


if __name__ == "__main__":
    main()
