"""Make the generated files of the search quality library (tests/assets/quality/).

    .venv/bin/python bench/make_quality_library.py

Writes `invoice.png` (a printed English invoice), `screenshot.png` (a settings window of a
desktop app) and `chelsea_mirror.jpg` (the cat photo mirrored and cropped, a second cat photo),
deterministically: the same text, layout and crop every run. The PNGs are committed beside
`library.json`, so tests never depend on this machine's fonts.
"""

from __future__ import annotations

from pathlib import Path

import pyvips

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "assets" / "quality"
PHOTOS = ROOT / "tests" / "assets" / "photos"

INVOICE_LINES = (
    ("INVOICE", "sans bold 40"),
    ("Invoice number: INV-2024-0117        Date: 12 March 2024", "sans 20"),
    ("Bill to: Northwind Traders, 14 Harbour Street, Bristol BS1 4DJ", "sans 20"),
    ("", "sans 20"),
    ("Description                        Qty     Unit price      Amount", "mono 18"),
    ("Office chairs                        4        120.00        480.00", "mono 18"),
    ("Standing desk                        1        350.00        350.00", "mono 18"),
    ("Delivery and installation            1         75.00         75.00", "mono 18"),
    ("", "sans 20"),
    ("Subtotal                                                   905.00", "mono 18"),
    ("VAT 20%                                                    181.00", "mono 18"),
    ("Total due                                            GBP 1,086.00", "mono 18"),
    ("", "sans 20"),
    ("Payment due within 30 days. Bank transfer to account 12345678.", "sans 18"),
)

SETTINGS_ROWS = (
    "Display brightness",
    "Dark mode",
    "Notifications",
    "Automatic updates",
    "Bluetooth",
    "Wi-Fi network: Office-5G",
)


def invoice() -> pyvips.Image:
    """A white A4-ish page with the invoice printed in black."""
    page = pyvips.Image.black(1100, 1300) + 255
    top = 80
    for line, font in INVOICE_LINES:
        if line:
            text = pyvips.Image.text(line, font=font, dpi=96)
            page = page.insert(255 - text, 80, top)
            top += text.height + 28
        else:
            top += 40
    return page.cast("uchar")


def screenshot() -> pyvips.Image:
    """A desktop window: a title bar, a menu, a sidebar and rows of settings with toggles."""
    width, height = 1280, 800
    window = pyvips.Image.black(width, height).new_from_image([240, 240, 240]).cast("uchar")
    window = window.draw_rect([52, 58, 74], 0, 0, width, 44, fill=True)
    window = _write(window, "Settings - Control Panel", 20, 10, "sans bold 16", [255, 255, 255])
    window = _write(window, "File   Edit   View   Window   Help", 20, 56, "sans 14", [30, 30, 30])
    window = window.draw_rect([225, 228, 232], 0, 90, 260, height - 90, fill=True)
    for n, item in enumerate(("General", "Display", "Network", "Privacy", "About")):
        window = _write(window, item, 30, 120 + 44 * n, "sans 15", [40, 40, 40])
    for n, row in enumerate(SETTINGS_ROWS):
        top = 130 + 80 * n
        window = _write(window, row, 320, top, "sans 16", [20, 20, 20])
        on = n % 2 == 0
        window = window.draw_rect(
            [46, 125, 250] if on else [180, 180, 180], 1100, top, 60, 28, fill=True
        )
        window = _write(window, "On" if on else "Off", 1180, top + 2, "sans 14", [60, 60, 60])
    window = window.draw_rect([46, 125, 250], 1060, 730, 180, 44, fill=True)
    return _write(window, "Apply changes", 1085, 740, "sans bold 14", [255, 255, 255])


def _write(
    image: pyvips.Image, line: str, left: int, top: int, font: str, colour: list[int]
) -> pyvips.Image:
    mask = pyvips.Image.text(line, font=font, dpi=96)
    under = image.crop(left, top, mask.width, mask.height)
    return image.insert(mask.ifthenelse(colour, under, blend=True).cast("uchar"), left, top)


def mirrored_cat() -> pyvips.Image:
    """The cat photo mirrored and cut to its middle, so its pixels differ from the original."""
    cat = pyvips.Image.new_from_file(str(PHOTOS / "chelsea.png")).fliphor()
    return cat.crop(40, 20, cat.width - 80, cat.height - 40)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    invoice().write_to_file(str(OUT / "invoice.png"), strip=True)
    screenshot().write_to_file(str(OUT / "screenshot.png"), strip=True)
    mirrored_cat().write_to_file(str(OUT / "chelsea_mirror.jpg"), Q=90, strip=True)
    print(f"wrote the generated files to {OUT}")


if __name__ == "__main__":
    main()
