"""Document extraction speed: text-layer pages/s through Scopix's extractor (isolated children, the
server's default) against pypdfium2 alone on the same real PDFs in the same run, and seconds per
scanned page read by OCR.

The PDFs are the real-world ones of tests/assets/documents. pypdfium2 alone opens each, and for
every page reads its text and every character's box in this process: the least any text-layer
extraction must do. Rounds alternate the two so that drift of the machine hits both alike. The
scanned pages are a dense 300-dpi A4 page and an invoice (tests/pagefactory.py) saved as an
image-only PDF; their character similarity to the drawn text is printed beside the time.

    .venv/bin/python bench/documents.py [--rounds 5] [--scanned-rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "assets" / "documents"
sys.path.insert(0, str(ROOT / "tests"))

from pagefactory import dense_page, invoice_page  # noqa: E402
from scopix.server.app import create_app  # noqa: E402
from scopix.server.domain.media import media_of_mime  # noqa: E402
from scopix.server.media.base import Extracted, MediaHandler  # noqa: E402
from scopix.server.services.container import Services  # noqa: E402
from scopix.server.settings import Settings  # noqa: E402

PDF = media_of_mime("application/pdf")


@dataclass(frozen=True)
class Pdf:
    """A PDF on disk and its size (which the extractor is given, as the extract job gives it)."""

    path: Path
    size: int

    @classmethod
    def at(cls, path: Path) -> Pdf:
        return cls(path, path.stat().st_size)


def pdfium_alone(path: Path) -> tuple[int, int]:
    """Open, then every page's text and character boxes, in this process; (pages, characters)."""
    document = pdfium.PdfDocument(path)
    characters = 0
    try:
        for index in range(len(document)):
            page = document[index]
            text_page = page.get_textpage()
            count = text_page.count_chars()
            text_page.get_text_range()
            for char in range(count):
                text_page.get_charbox(char)
            characters += count
            text_page.close()
            page.close()
        return len(document), characters
    finally:
        document.close()


async def ours(handler: MediaHandler, pdf: Pdf) -> Extracted:
    return await handler.extract(pdf.path, PDF, pdf.size)


async def text_layer(handler: MediaHandler, pdfs: list[Pdf], rounds: int) -> None:
    truth = {pdf: pdfium_alone(pdf.path) for pdf in pdfs}
    pages = sum(count for count, _ in truth.values())
    for pdf in pdfs:  # the same pages either way, and a warm pool child before timing
        extracted = await ours(handler, pdf)
        methods = {page.method for page in extracted.pages}
        if len(extracted.pages) != truth[pdf][0] or methods != {"text_layer"}:
            raise SystemExit(f"{pdf.path.name}: {len(extracted.pages)} pages by {methods}")

    rates: dict[str, list[float]] = {"scopix (isolated)": [], "pypdfium2 alone": []}
    for _ in range(rounds):
        start = time.perf_counter()
        for pdf in pdfs:
            await ours(handler, pdf)
        rates["scopix (isolated)"].append(pages / (time.perf_counter() - start))
        start = time.perf_counter()
        for pdf in pdfs:
            pdfium_alone(pdf.path)
        rates["pypdfium2 alone"].append(pages / (time.perf_counter() - start))

    print(f"text-layer pages/s: {len(pdfs)} real PDFs, {pages} pages a round, {rounds} rounds")
    for pdf in pdfs:
        count, characters = truth[pdf]
        print(f"  {pdf.path.name:<34} {count:>3} pages {characters:>7} characters")
    print(f"  {'extractor':<18} {'best':>8} {'median':>8}   rounds")
    for name, values in rates.items():
        shown = " ".join(f"{v:.0f}" for v in values)
        print(f"  {name:<18} {max(values):>8.0f} {statistics.median(values):>8.0f}   {shown}")
    scopix, alone = rates["scopix (isolated)"], rates["pypdfium2 alone"]
    for label, ratio in (
        ("best", max(scopix) / max(alone)),
        ("median", statistics.median(scopix) / statistics.median(alone)),
    ):
        print(f"  scopix / pypdfium2 alone by {label}: {ratio:.2f}x (target >= 0.7x)")


def similarity(found: str, truth: str) -> float:
    """Character similarity of two texts with whitespace collapsed (1.0: the same)."""
    a, b = " ".join(found.split()), " ".join(truth.split())
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def scanned_pdf(path: Path) -> tuple[Pdf, tuple[str, str]]:
    """A dense page and an invoice, drawn at 300 dpi, saved as an image-only PDF; their text."""
    dense, dense_text = dense_page()
    invoice, invoice_text = invoice_page()
    dense.save(path, "PDF", resolution=300, save_all=True, append_images=[invoice])
    return Pdf.at(path), (dense_text, invoice_text)


async def scanned(handler: MediaHandler, work: Path, rounds: int) -> None:
    pdf, truths = scanned_pdf(work / "scanned.pdf")
    await ours(handler, pdf)  # the OCR models load once, as in a running server
    seconds: list[float] = []
    for _ in range(rounds):
        start = time.perf_counter()
        extracted = await ours(handler, pdf)
        seconds.append((time.perf_counter() - start) / len(extracted.pages))
    print(f"scanned pages (A4 at 300 dpi, image only), {rounds} rounds of {len(truths)} pages:")
    print(
        f"  seconds per page: best {min(seconds):.2f}, median {statistics.median(seconds):.2f}"
        f"   ({' '.join(f'{s:.2f}' for s in seconds)})"
    )
    for page, truth, name in zip(extracted.pages, truths, ("dense page", "invoice"), strict=True):
        print(
            f"  {name:<11} read by {page.method}: {similarity(page.text, truth):.3f} character"
            f" similarity, {len(page.regions)} regions"
        )


async def main(rounds: int, scanned_rounds: int) -> None:
    pdfs = [Pdf.at(path) for path in sorted(CORPUS.glob("*.pdf"))]
    with tempfile.TemporaryDirectory(prefix="scopix-bench-") as tmp:
        work = Path(tmp)
        app = create_app(Settings(data_dir=work / "data", workers=0))
        async with app.router.lifespan_context(app):
            services: Services = app.state.services
            handler = services.media.of(PDF)
            await text_layer(handler, pdfs, rounds)
            if scanned_rounds:
                await scanned(handler, work, scanned_rounds)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--scanned-rounds", type=int, default=2)
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.scanned_rounds))
