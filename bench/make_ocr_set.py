"""Draw the labeled OCR set in tests/assets/ocr/: five classes of images, each with its text.

    .venv/bin/python bench/make_ocr_set.py

Deterministic: fixed seeds and the DejaVu fonts of Debian's fonts-dejavu-core (2.37). The
images are committed, so tests and CI never need the fonts; rerun this only to change the set,
and say so in SOURCES.md.

Classes (see tests/assets/ocr/SOURCES.md): document, screenshot, sign, page_photo, rotated.
Each image is `<class>_<name>.png` with its ground truth beside it as `<class>_<name>.txt`:
its lines top to bottom, each row's cells left to right, as a reader of the image would say it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "assets" / "ocr"
PHOTOS = ROOT / "tests" / "assets" / "photos"
FONTS = Path("/usr/share/fonts/truetype/dejavu")

Drawn = tuple[Image.Image, list[str]]

_WORDS = (
    "the quick brown fox jumps over lazy dog river market garden window paper coffee "
    "morning evening station report weekly budget meeting notes project summary order "
    "delivery customer account balance printer office table chair lamp green yellow "
    "orange purple silver north south east west open closed early late small large "
    "bright quiet simple careful public private second third final review draft"
)
_VOCABULARY = _WORDS.split()
_EXTENSIONS = ["pdf", "docx", "png", "csv"]


def font(name: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONTS / f"{name}.ttf"), size)


def sentence(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choice(_VOCABULARY) for _ in range(words))
    return text[0].upper() + text[1:]


# -- document -----------------------------------------------------------------------------


def document_dense_a4() -> Drawn:
    """A4 at 150 dpi (1240 x 1754) filled with 64 lines of 8 pt serif text (17 px): dense."""
    rng = random.Random(20)
    image = Image.new("L", (1240, 1754), 252)
    draw = ImageDraw.Draw(image)
    face = font("DejaVuSerif", 17)
    lines = []
    for index in range(64):
        words: list[str] = []
        while draw.textlength(" ".join([*words, "market"]), font=face) < 1060:
            words.append(rng.choice(_VOCABULARY) if words else rng.choice(_VOCABULARY).title())
        line = " ".join(words) + ("." if index % 5 == 4 else ",")
        draw.text((90, 80 + index * 25), line, font=face, fill=20)
        lines.append(line)
    return image.filter(ImageFilter.GaussianBlur(0.5)), lines


def document_price_list() -> Drawn:
    """A price list: a title, then rows of item, code and price in three columns."""
    rng = random.Random(21)
    image = Image.new("L", (900, 820), 255)
    draw = ImageDraw.Draw(image)
    lines = ["Price list 2026"]
    draw.text((60, 40), lines[0], font=font("DejaVuSans-Bold", 30), fill=0)
    face = font("DejaVuSans", 18)
    for index in range(20):
        y = 110 + index * 34
        cells = [
            f"{rng.choice(_VOCABULARY).title()} {rng.choice(_VOCABULARY)}",
            f"A-{rng.randint(1000, 9999)}",
            f"{rng.randint(1, 300)}.{rng.randint(0, 99):02d}",
        ]
        draw.text((60, y), cells[0], font=face, fill=10)
        draw.text((480, y), cells[1], font=face, fill=10)
        draw.text((840, y), cells[2], font=face, fill=10, anchor="ra")
        lines.append(" ".join(cells))
    return image, lines


def document_letter() -> Drawn:
    """A short letter in a serif face, a heading in bold, on a small page."""
    rng = random.Random(3)
    image = Image.new("RGB", (900, 700), "white")
    draw = ImageDraw.Draw(image)
    lines = ["Quarterly Report", *(sentence(rng, 9) + "." for _ in range(12))]
    y = 50
    draw.text((60, y), lines[0], font=font("DejaVuSerif-Bold", 30), fill="black")
    y += 70
    body = font("DejaVuSerif", 19)
    for line in lines[1:]:
        draw.text((60, y), line, font=body, fill=(30, 30, 30))
        y += 38
    return image, lines


def document_memo() -> Drawn:
    """A memo in sans and mono on a cream page: labels with values, then a code block."""
    rng = random.Random(5)
    image = Image.new("RGB", (800, 560), (250, 246, 232))
    draw = ImageDraw.Draw(image)
    lines = [
        "MEMO",
        "To: Facilities team",
        "From: Office manager",
        "Date: 14 March 2026",
        *(sentence(rng, 8) + "." for _ in range(4)),
        "room 214: 6 chairs, 2 tables",
        "room 305: 1 printer, 4 lamps",
    ]
    draw.text((50, 40), lines[0], font=font("DejaVuSans-Bold", 28), fill=(20, 20, 60))
    y = 100
    for index, line in enumerate(lines[1:], start=1):
        face = font("DejaVuSansMono", 17) if index > 7 else font("DejaVuSans", 18)
        draw.text((50, y), line, font=face, fill=(25, 25, 25))
        y += 34 if index != 3 else 56
    return image, lines


# -- screenshot ---------------------------------------------------------------------------


def _window(
    size: tuple[int, int], title: str, dark: bool
) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    background = (32, 34, 40) if dark else (246, 247, 249)
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 0, size[0], 34], fill=(44, 92, 170))
    draw.text((14, 9), title, font=font("DejaVuSans-Bold", 14), fill="white")
    return image, draw


def _table_screen(seed: int, dark: bool, size: int) -> Drawn:
    """A file list: title bar, toolbar buttons, a header and rows of name, date, size."""
    rng = random.Random(seed)
    ink = (225, 228, 232) if dark else (33, 37, 41)
    title = "Files - Project " + rng.choice(_VOCABULARY).title()
    image, draw = _window((820, 520), title, dark)
    small = font("DejaVuSans", size)
    lines = [title]
    x, buttons = 14, ["New", "Upload", "Share", "Delete"]
    for label in buttons:
        width = int(draw.textlength(label, font=small)) + 20
        draw.rounded_rectangle(
            [x, 46, x + width, 72], 4, fill=(220, 224, 230) if not dark else (60, 64, 72)
        )
        draw.text((x + 10, 52), label, font=small, fill=ink)
        x += width + 10
    lines.append(" ".join(buttons))
    columns = (20, 400, 620)
    header = ["Name", "Modified", "Size"]
    for column, cell in zip(columns, header, strict=True):
        draw.text((column, 90), cell, font=font("DejaVuSans-Bold", size), fill=ink)
    lines.append(" ".join(header))
    for row in range(12):
        y = 118 + row * 30
        if row % 2:
            draw.rectangle([0, y - 6, 820, y + 22], fill=(40, 43, 50) if dark else (236, 239, 243))
        cells = [
            f"{rng.choice(_VOCABULARY)}_{rng.choice(_VOCABULARY)}.{rng.choice(_EXTENSIONS)}",
            f"{rng.randint(1, 28)} {rng.choice(['Jan', 'Feb', 'Mar', 'Apr', 'May'])} 2026",
            f"{rng.randint(2, 980)} KB",
        ]
        for column, cell in zip(columns, cells, strict=True):
            draw.text((column, y), cell, font=small, fill=ink)
        lines.append(" ".join(cells))
    status = f"{12} items, {rng.randint(2, 9)} selected"
    draw.text((20, 494), status, font=small, fill=ink)
    lines.append(status)
    return image, lines


def screenshot_files_light() -> Drawn:
    return _table_screen(seed=11, dark=False, size=13)


def screenshot_files_dark() -> Drawn:
    return _table_screen(seed=12, dark=True, size=13)


def screenshot_settings() -> Drawn:
    """A settings form: labels, text fields with values, a checkbox line and two buttons."""
    rng = random.Random(13)
    image, draw = _window((640, 420), "Settings", dark=False)
    small = font("DejaVuSans", 12)
    lines = ["Settings"]
    fields = [
        ("Display name", "Maria " + rng.choice(_VOCABULARY).title()),
        ("Email", "maria@example.com"),
        ("Language", "English (United Kingdom)"),
        ("Time zone", "Europe/Berlin"),
    ]
    for index, (label, value) in enumerate(fields):
        y = 56 + index * 52
        draw.text((24, y + 6), label, font=small, fill=(60, 64, 70))
        draw.rectangle([180, y, 600, y + 28], outline=(180, 184, 190), fill="white")
        draw.text((190, y + 7), value, font=small, fill=(20, 20, 20))
        lines.append(f"{label} {value}")
    draw.rectangle([24, 272, 38, 286], outline=(90, 90, 90))
    notice = "Send me a weekly summary by email"
    draw.text((48, 272), notice, font=small, fill=(40, 40, 40))
    lines.append(notice)
    for x, label, fill in ((400, "Cancel", (225, 228, 232)), (500, "Save", (44, 92, 170))):
        draw.rounded_rectangle([x, 350, x + 84, 380], 5, fill=fill)
        colour = "white" if label == "Save" else (30, 30, 30)
        draw.text((x + 20, 358), label, font=small, fill=colour)
    lines.append("Cancel Save")
    return image, lines


def screenshot_chat() -> Drawn:
    """A chat: bubbles of small text left and right, names above them."""
    rng = random.Random(14)
    image, draw = _window((600, 460), "Team chat", dark=False)
    small = font("DejaVuSans", 13)
    lines = ["Team chat"]
    y = 50
    for index in range(6):
        name = "Alex" if index % 2 == 0 else "Sam"
        text = sentence(rng, 6)
        x = 20 if index % 2 == 0 else 230
        draw.text((x, y), name, font=font("DejaVuSans-Bold", 11), fill=(90, 90, 90))
        width = int(draw.textlength(text, font=small)) + 24
        fill = (225, 236, 250) if index % 2 == 0 else (220, 245, 225)
        draw.rounded_rectangle([x, y + 16, x + width, y + 46], 10, fill=fill)
        draw.text((x + 12, y + 23), text, font=small, fill=(20, 20, 20))
        lines += [name, text]
        y += 66
    return image, lines


# -- sign ---------------------------------------------------------------------------------


def _sign(
    photo: str,
    box: tuple[int, int, int, int],
    texts: list[tuple[str, int, tuple[int, int]]],
    colour: tuple[int, int, int],
    plate: bool,
) -> Drawn:
    """Text drawn over a crop of a test photo: in outlined letters, or on a translucent plate."""
    image = Image.open(PHOTOS / photo).convert("RGB").crop(box)
    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    for text, size, (x, y) in texts:
        face = font("DejaVuSans-Bold", size)
        if plate:
            left, top, right, bottom = draw.textbbox((x, y), text, font=face)
            draw.rectangle([left - 8, top - 6, right + 8, bottom + 6], fill=(255, 255, 255, 150))
            draw.text((x, y), text, font=face, fill=(*colour, 255))
        else:
            draw.text(
                (x, y),
                text,
                font=face,
                fill=(*colour, 255),
                stroke_width=2,
                stroke_fill=(0, 0, 0, 255),
            )
    image = Image.alpha_composite(image.convert("RGBA"), layer).convert("RGB")
    # Three quarters of the photo's size: a phone picture of a sign, and a small file.
    image = image.resize((image.width * 3 // 4, image.height * 3 // 4), Image.LANCZOS)
    return image, [text for text, _, _ in texts]


def sign_coffee() -> Drawn:
    return _sign(
        "coffee.png",
        (0, 0, 600, 400),
        [("OPEN DAILY", 54, (140, 40)), ("Fresh coffee 2.50", 34, (150, 320))],
        (255, 230, 90),
        plate=False,
    )


def sign_cat() -> Drawn:
    return _sign(
        "chelsea.png",
        (0, 0, 451, 300),
        [("LOST CAT", 48, (110, 20)), ("Call 555 0192", 30, (120, 240))],
        (255, 255, 255),
        plate=False,
    )


def sign_motorcycle() -> Drawn:
    return _sign(
        "motorcycle_left.png",
        (60, 40, 700, 460),
        [("FOR SALE", 60, (180, 60)), ("Best offer", 36, (230, 330))],
        (200, 20, 20),
        plate=True,
    )


def sign_rocket() -> Drawn:
    return _sign(
        "rocket.jpg",
        (0, 0, 640, 427),
        [("LAUNCH DAY", 50, (40, 30)), ("Gate 7 opens at 9", 30, (40, 360))],
        (120, 220, 255),
        plate=False,
    )


# -- page_photo ---------------------------------------------------------------------------


def _photographed(page: Image.Image, tilt: float, light: float, blur: float) -> Image.Image:
    """A page shot with a phone: on a desk, in perspective, lit from one side, a little blurred."""
    width, height = 720, 560
    desk = np.linspace(70, 120, width)[None, :, None] * np.array([1.0, 0.8, 0.6])[None, None, :]
    canvas = Image.fromarray(np.broadcast_to(desk, (height, width, 3)).astype(np.uint8))
    scale = 460 / page.width
    page = page.convert("RGB").resize((460, round(page.height * scale)), Image.LANCZOS)
    # Corners of the page on the desk, one edge further away than the other.
    x0, y0 = 130, 50
    pw, ph = page.size
    quad = [
        (x0 + tilt, y0),
        (x0 + pw - tilt, y0 + tilt / 2),
        (x0 + pw + tilt / 2, y0 + ph),
        (x0 - tilt / 2, y0 + ph - tilt / 3),
    ]
    coefficients = _perspective(quad, [(0, 0), (pw, 0), (pw, ph), (0, ph)])
    warped = page.transform(
        (width, height), Image.PERSPECTIVE, coefficients, Image.BICUBIC, fillcolor=None
    )
    mask = Image.new("L", page.size, 255).transform(
        (width, height), Image.PERSPECTIVE, coefficients, Image.BICUBIC
    )
    canvas.paste(warped, (0, 0), mask)
    pixels = np.asarray(canvas, dtype=np.float64)
    shade = (
        np.linspace(1.0, light, width)[None, :, None] * np.linspace(1.0, 0.9, height)[:, None, None]
    )
    pixels = pixels * shade
    shot = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    return shot.filter(ImageFilter.GaussianBlur(blur))


def _perspective(
    target: list[tuple[float, float]], source: list[tuple[float, float]]
) -> list[float]:
    """PIL's 8 perspective coefficients mapping output points `target` to input `source`."""
    rows = []
    for (x, y), (u, v) in zip(target, source, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    solution = np.linalg.solve(
        np.array(rows, dtype=np.float64), np.array([c for p in source for c in p], dtype=np.float64)
    )
    return [float(c) for c in solution]


def _page_text(seed: int, lines: int) -> Drawn:
    rng = random.Random(seed)
    image = Image.new("RGB", (800, 120 + lines * 40), "white")
    draw = ImageDraw.Draw(image)
    texts = ["Meeting notes", *(sentence(rng, 7) for _ in range(lines))]
    draw.text((50, 40), texts[0], font=font("DejaVuSans-Bold", 30), fill="black")
    for index, line in enumerate(texts[1:]):
        draw.text((50, 100 + index * 40), line, font=font("DejaVuSerif", 24), fill=(25, 25, 25))
    return image, texts


def page_photo_notes() -> Drawn:
    page, text = _page_text(seed=31, lines=9)
    return _photographed(page, tilt=40, light=0.55, blur=0.8), text


def page_photo_dim() -> Drawn:
    page, text = _page_text(seed=32, lines=11)
    return _photographed(page, tilt=60, light=0.4, blur=1.1), text


def page_photo_letter() -> Drawn:
    page, text = document_letter()
    return _photographed(page, tilt=25, light=0.7, blur=0.6), text


def page_photo_book() -> Drawn:
    """scikit-image's photo of a book page (tests/assets/photos/page.png), its text typed in."""
    image = Image.open(PHOTOS / "page.png").convert("RGB")
    return image, [
        "Region-based segmentation",
        "Let us first determine markers of the coins and the",
        "background. These markers are pixels that we can label",
        "unambiguously as either object or background. Here,",
        "the markers are found at the two extreme parts of the",
        "histogram of grey values:",
        ">>> markers = np.zeros_like(coins)",
    ]


# -- rotated ------------------------------------------------------------------------------


def _label(lines: list[str], seed: int) -> Image.Image:
    """A printed label: dark text on a light card, on a grey shelf."""
    rng = random.Random(seed)
    face = font("DejaVuSans-Bold", 30)
    card = Image.new(
        "RGB", (520, 60 + 48 * len(lines)), rng.choice([(255, 255, 255), (255, 244, 200)])
    )
    draw = ImageDraw.Draw(card)
    for index, line in enumerate(lines):
        draw.text((30, 30 + index * 48), line, font=face, fill=(20, 20, 20))
    shelf = Image.new("RGB", (card.width + 120, card.height + 120), (150, 150, 155))
    shelf.paste(card, (60, 60))
    return shelf


def _turned(lines: list[str], seed: int, degrees: float) -> Drawn:
    label = _label(lines, seed)
    return label.rotate(degrees, Image.BICUBIC, expand=True, fillcolor=(150, 150, 155)), lines


def rotated_90() -> Drawn:
    return _turned(["FRAGILE", "Handle with care", "Box 12 of 40"], seed=41, degrees=90)


def rotated_180() -> Drawn:
    return _turned(["Store below 25 C", "Batch 2026-117", "Keep dry"], seed=42, degrees=180)


def rotated_270() -> Drawn:
    return _turned(["Shelf B4", "Paper towels", "Qty 24"], seed=43, degrees=270)


def rotated_20() -> Drawn:
    return _turned(["Garden centre", "Tomato plants", "3 for 10"], seed=44, degrees=20)


def rotated_minus35() -> Drawn:
    return _turned(["Platform 2", "Northbound trains", "Exit this way"], seed=45, degrees=-35)


SET: dict[str, Callable[[], Drawn]] = {
    "document_dense_a4": document_dense_a4,
    "document_price_list": document_price_list,
    "document_letter": document_letter,
    "document_memo": document_memo,
    "screenshot_files_light": screenshot_files_light,
    "screenshot_files_dark": screenshot_files_dark,
    "screenshot_settings": screenshot_settings,
    "screenshot_chat": screenshot_chat,
    "sign_coffee": sign_coffee,
    "sign_cat": sign_cat,
    "sign_motorcycle": sign_motorcycle,
    "sign_rocket": sign_rocket,
    "page_photo_notes": page_photo_notes,
    "page_photo_dim": page_photo_dim,
    "page_photo_letter": page_photo_letter,
    "page_photo_book": page_photo_book,
    "rotated_90": rotated_90,
    "rotated_180": rotated_180,
    "rotated_270": rotated_270,
    "rotated_20": rotated_20,
    "rotated_minus35": rotated_minus35,
}


def main() -> None:
    if OUT.exists():
        for stale in [*OUT.glob("*.png"), *OUT.glob("*.txt")]:
            stale.unlink()
    OUT.mkdir(parents=True, exist_ok=True)
    for name, make in SET.items():
        image, lines = make()
        image.save(OUT / f"{name}.png", optimize=True)
        (OUT / f"{name}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"{name}: {image.size[0]}x{image.size[1]}, {len(lines)} lines")


if __name__ == "__main__":
    main()
