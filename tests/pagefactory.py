"""Scanned pages made on the fly with Pillow, with the text drawn on them and where it was drawn.

The font is the one inside Pillow's wheel (Aileron Regular, `ImageFont.load_default`), so a page
is the same on any machine with the locked Pillow, fonts installed or not. A page is greyscale
ink on white, softened and grained a little the way a 300-dpi scanner leaves it, and returned
as an 8-bit RGB image: save it as PNG, or as a PDF with `image.save(out, "PDF", resolution=dpi)`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

__all__ = [
    "A4_PORTRAIT",
    "DrawnLine",
    "Page",
    "dense_page",
    "draw_dense_page",
    "draw_invoice_page",
    "invoice_page",
]

#: A4 at 300 dpi, in pixels (width, height).
A4_PORTRAIT = (2480, 3508)
_POINTS_PER_INCH = 72
# Typesetting's usual leading: lines 1.2 times the font size apart.
_LEADING = 1.2
_INK = 20
_PAPER = 250

Box = tuple[int, int, int, int]  # left, top, right, bottom in pixels


@dataclass(frozen=True)
class DrawnLine:
    """One row of text as drawn: its words (cells of a row joined by a space) and its ink box."""

    text: str
    box: Box


@dataclass(frozen=True)
class Page:
    image: Image.Image
    lines: tuple[DrawnLine, ...]
    dpi: int

    @property
    def text(self) -> str:
        """The ground truth: the rows top to bottom, one per line."""
        return "\n".join(line.text for line in self.lines)


def dense_page(
    width: int = A4_PORTRAIT[0],
    height: int = A4_PORTRAIT[1],
    lines: int = 40,
    font_pt: float = 9,
    dpi: int = 300,
    seed: int = 17,
) -> tuple[Image.Image, str]:
    """A page of `lines` full lines of small running text, and that text."""
    page = draw_dense_page(width, height, lines, font_pt, dpi, seed)
    return page.image, page.text


def invoice_page(
    width: int = A4_PORTRAIT[0], height: int = A4_PORTRAIT[1], dpi: int = 300
) -> tuple[Image.Image, str]:
    """An invoice (letterhead, addresses, a table of items, totals, terms), and its text."""
    page = draw_invoice_page(width, height, dpi)
    return page.image, page.text


def draw_dense_page(
    width: int = A4_PORTRAIT[0],
    height: int = A4_PORTRAIT[1],
    lines: int = 40,
    font_pt: float = 9,
    dpi: int = 300,
    seed: int = 17,
) -> Page:
    """`lines` lines of prose set in one block from the top margin, packed closer than the usual
    leading when the page is too short for them (never so close that lines touch)."""
    font_px = font_pt * dpi / _POINTS_PER_INCH
    font = _font(font_px)
    ascent, descent = font.getmetrics()
    _, ink_top, _, ink_bottom = font.getbbox("Hg", anchor="ls")
    margin_x = round(dpi * 0.7)
    margin_y = min(round(dpi * 0.8), height // 20)
    pitch = min(_LEADING * font_px, (height - 2 * margin_y - ascent - descent) / max(lines - 1, 1))
    if pitch <= ink_bottom - ink_top:
        raise ValueError(f"{lines} lines of {font_pt} pt do not fit {height} px at {dpi} dpi")
    # No word is narrower than an em with its space: this many words always fill the lines.
    words = _prose(random.Random(seed), lines * (width // font_px + 1))
    canvas = Image.new("L", (width, height), _PAPER)
    draw = ImageDraw.Draw(canvas)
    drawn = []
    for index in range(lines):
        text = _fill(words, font, width - 2 * margin_x)
        baseline = round(margin_y + ascent + index * pitch)
        drawn.append(_draw(draw, (margin_x, baseline), text, font, "ls"))
    return Page(_scanned(canvas, seed), tuple(drawn), dpi)


def draw_invoice_page(
    width: int = A4_PORTRAIT[0], height: int = A4_PORTRAIT[1], dpi: int = 300
) -> Page:
    """A German supplier's invoice to a Swedish customer, laid out in points on the page."""
    scale = dpi / _POINTS_PER_INCH
    canvas = Image.new("L", (width, height), _PAPER)
    draw = ImageDraw.Draw(canvas)
    left, right = round(50 * scale), width - round(50 * scale)
    fonts = {pt: _font(pt * scale) for pt in (9, 10, 16, 22)}
    rows: list[DrawnLine] = []
    y = 70 * scale

    def row(cells: list[tuple[float, str, int, str]], after_pt: float) -> None:
        """Cells (x in pixels, text, font size, anchor) on one baseline, then move down."""
        nonlocal y
        y += max(size for _, _, size, _ in cells) * scale
        boxes = [
            _draw(draw, (round(x), round(y)), text, fonts[size], anchor)
            for x, text, size, anchor in cells
        ]
        rows.append(_row(boxes))
        y += after_pt * scale

    row([(left, "Northwind Office Supplies GmbH", 16, "ls"), (right, "INVOICE", 22, "rs")], 6)
    row([(left, "Hafenstrasse 12, 20457 Hamburg, Germany", 9, "ls")], 3)
    row([(left, "VAT ID DE812345678 | Phone +49 40 555 0192", 9, "ls")], 40)
    meta = right - round(170 * scale)
    for customer, detail in (
        ("Bill to:", "Invoice no.: 2026-0417"),
        ("Lindqvist & Partner AB", "Invoice date: 28 November 2026"),
        ("Attn: Maria Lindqvist", "Due date: 28 December 2026"),
        ("Sveavagen 44", "Customer no.: C-10388"),
        ("111 34 Stockholm, Sweden", "Order ref.: PO-88213"),
    ):
        row([(left, customer, 10, "ls"), (meta, detail, 10, "ls")], 5)
    y += 30 * scale

    columns = {"item": left, "desc": left + 40 * scale, "qty": right - 190 * scale}
    columns |= {"unit": right - 110 * scale, "amount": right}
    rule = round(y + 4 * scale)
    draw.line([(left, rule), (right, rule)], fill=_INK, width=max(1, round(scale)))
    y += 8 * scale
    row(
        [
            (columns["item"], "Item", 10, "ls"),
            (columns["desc"], "Description", 10, "ls"),
            (columns["qty"], "Qty", 10, "rs"),
            (columns["unit"], "Unit price", 10, "rs"),
            (columns["amount"], "Amount", 10, "rs"),
        ],
        8,
    )
    rule = round(y)
    draw.line([(left, rule), (right, rule)], fill=_INK, width=max(1, round(scale)))
    y += 6 * scale
    subtotal = Decimal(0)
    for number, (description, quantity, unit) in enumerate(_INVOICE_ITEMS, start=1):
        amount = quantity * Decimal(unit)
        subtotal += amount
        row(
            [
                (columns["item"], str(number), 10, "ls"),
                (columns["desc"], description, 10, "ls"),
                (columns["qty"], str(quantity), 10, "rs"),
                (columns["unit"], _money(Decimal(unit)), 10, "rs"),
                (columns["amount"], _money(amount), 10, "rs"),
            ],
            9,
        )
    rule = round(y)
    draw.line([(columns["qty"] - 60 * scale, rule), (right, rule)], fill=_INK, width=1)
    y += 8 * scale
    vat = (subtotal * Decimal("0.19")).quantize(Decimal("0.01"))
    label = columns["unit"] - 40 * scale
    for name, value, size in (
        ("Subtotal", subtotal, 10),
        ("VAT 19%", vat, 10),
        ("Total due EUR", subtotal + vat, 16),
    ):
        row([(label, name, size, "rs"), (right, _money(value), size, "rs")], 8)
    y += 40 * scale
    for line in _INVOICE_TERMS:
        row([(left, line, 9, "ls")], 4)
    return Page(_scanned(canvas, seed=dpi), tuple(rows), dpi)


_INVOICE_ITEMS = (
    ("Copy paper A4, 80 g/m2, box of 5 reams", 12, "24.90"),
    ("Ballpoint pens, blue, pack of 50", 4, "18.75"),
    ("Lever arch files, 80 mm, assorted colours", 30, "2.85"),
    ("Toner cartridge TN-2420, black", 6, "64.00"),
    ("Desk organiser, recycled plastic", 8, "11.40"),
    ("Whiteboard markers, set of 8", 15, "9.95"),
    ("Shipping and handling", 1, "39.00"),
)
_INVOICE_TERMS = (
    "Payment terms: 30 days net. Please quote the invoice number with your payment.",
    "Bank: Hamburger Sparkasse, IBAN DE44 2005 0550 1234 5678 90, BIC HASPDEHHXXX",
    "Northwind Office Supplies GmbH, Registered at Hamburg HRB 154321. Thank you for your order.",
)


def _font(size_px: float) -> ImageFont.FreeTypeFont:
    """Pillow's own TrueType font at a size in pixels."""
    font = ImageFont.load_default(size=size_px)
    if not isinstance(font, ImageFont.FreeTypeFont):
        raise RuntimeError("this Pillow was built without FreeType: it cannot draw pages")
    return font


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def _draw(
    draw: ImageDraw.ImageDraw,
    xy: tuple[int, int],
    text: str,
    font: ImageFont.FreeTypeFont,
    anchor: str,
) -> DrawnLine:
    draw.text(xy, text, fill=_INK, font=font, anchor=anchor)
    left, top, right, bottom = draw.textbbox(xy, text, font=font, anchor=anchor)
    return DrawnLine(text, (round(left), round(top), round(right), round(bottom)))


def _row(cells: list[DrawnLine]) -> DrawnLine:
    """Cells on one baseline as one line: read left to right, inside the box around them all."""
    ordered = sorted(cells, key=lambda cell: cell.box[0])
    boxes = [cell.box for cell in ordered]
    return DrawnLine(
        " ".join(cell.text for cell in ordered),
        (
            min(b[0] for b in boxes),
            min(b[1] for b in boxes),
            max(b[2] for b in boxes),
            max(b[3] for b in boxes),
        ),
    )


def _scanned(page: Image.Image, seed: int) -> Image.Image:
    """Ink softened by the scanner's optics and paper grain: a slight blur and a faint noise."""
    soft = np.asarray(page.filter(ImageFilter.GaussianBlur(0.8)), dtype=np.float32)
    grain = np.random.default_rng(seed).normal(0.0, 4.0, soft.shape)
    grey = np.clip(soft + grain, 0, 255).astype(np.uint8)
    return Image.fromarray(grey).convert("RGB")


_WORDS = (
    "the of and to in is was for that with as on by at from this are be or an which it not "
    "have has had were their its but all can more one also other new than been two into some "
    "these first may would when there only time after most such over used between under year "
    "system report results market water energy company account service customer delivery "
    "invoice order payment period quarter revenue growth costs supply storage network data "
    "research analysis process quality standard section table figure model method sample "
    "values measured average higher lower increase decrease total annual monthly regional "
    "European national public private project team manager office building equipment "
    "contract agreement terms conditions schedule review budget forecast figures shown below "
    "above following previous current expected available required approved received"
)
_VOCABULARY = _WORDS.split()


def _prose(chance: random.Random, count: float) -> list[str]:
    """At least `count` words in sentences (capitals, commas, numbers, full stops), last first."""
    words: list[str] = []
    while len(words) < count:
        sentence = [chance.choice(_VOCABULARY) for _ in range(chance.randint(7, 16))]
        if chance.random() < 0.5:
            sentence.insert(chance.randrange(1, len(sentence)), _number(chance))
        if chance.random() < 0.4:
            comma = chance.randrange(2, len(sentence) - 1)
            sentence[comma] += ","
        sentence[0] = sentence[0].capitalize()
        sentence[-1] += "."
        words.extend(sentence)
    words.reverse()
    return words


def _number(chance: random.Random) -> str:
    kind = chance.randrange(4)
    if kind == 0:
        return str(chance.randint(2, 98))
    if kind == 1:
        return f"{chance.randint(1, 99)}.{chance.randint(0, 9)}%"
    if kind == 2:
        return str(chance.randint(1990, 2026))
    return f"{chance.randint(1, 9)},{chance.randint(100, 999)}"


def _fill(words: list[str], font: ImageFont.FreeTypeFont, width: float) -> str:
    """Take words off the stream while they fit on a line `width` pixels wide."""
    line = [words.pop()]
    while words and font.getlength(" ".join([*line, words[-1]])) <= width:
        line.append(words.pop())
    return " ".join(line)
