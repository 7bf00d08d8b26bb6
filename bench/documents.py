"""Document extraction speed: text-layer pages/s through Scopix's extractor (isolated children, the
server's default) against pypdfium2 alone on the same real PDFs in the same run, and seconds per
scanned page read by OCR.

The PDFs are the real-world ones of tests/assets/documents. pypdfium2 alone opens each, and for
every page reads its text and PDFium's boxes of it in this process: the least any text-layer
extraction must do. Scopix is timed on new bytes (copies no decoder child has seen, so pypdf's
pre-scan for bombs runs, as for an upload) and on the same bytes again. Rounds alternate the
three so that drift of the machine hits all alike. The scanned pages are a dense 300-dpi A4
page and an invoice (tests/pagefactory.py) saved as an image-only PDF; their character
similarity to the drawn text is printed beside the time.

    .venv/bin/python bench/documents.py [--rounds 5] [--scanned-rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import shutil
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
    """Open, then every page's text and the boxes PDFium makes of it (its text rectangles), in
    this process: the least a text layer with boxes costs. (pages, characters)."""
    document = pdfium.PdfDocument(path)
    characters = 0
    try:
        for index in range(len(document)):
            page = document[index]
            text_page = page.get_textpage()
            characters += len(text_page.get_text_range())
            for rect in range(text_page.count_rects()):
                text_page.get_rect(rect)
            text_page.close()
            page.close()
        return len(document), characters
    finally:
        document.close()


async def ours(handler: MediaHandler, pdf: Pdf) -> Extracted:
    return await handler.extract(pdf.path, PDF, pdf.size)


def fresh_copies(pdfs: list[Pdf], folder: Path) -> list[Pdf]:
    """The PDFs copied to new files: bytes no decoder child has pre-scanned yet, as an upload's
    are (a child skips pypdf's pass over a file it has already checked)."""
    folder.mkdir(parents=True)
    return [Pdf.at(Path(shutil.copy(pdf.path, folder / pdf.path.name))) for pdf in pdfs]


async def text_layer(handler: MediaHandler, pdfs: list[Pdf], work: Path, rounds: int) -> None:
    truth = {pdf.path.name: pdfium_alone(pdf.path) for pdf in pdfs}
    pages = sum(count for count, _ in truth.values())
    for pdf in pdfs:  # the same pages either way, and a warm pool child before timing
        extracted = await ours(handler, pdf)
        methods = {page.method for page in extracted.pages}
        if len(extracted.pages) != truth[pdf.path.name][0] or methods != {"text_layer"}:
            raise SystemExit(f"{pdf.path.name}: {len(extracted.pages)} pages by {methods}")

    new, again, alone = "scopix, new bytes", "scopix, same again", "pypdfium2 alone"
    rates: dict[str, list[float]] = {new: [], again: [], alone: []}
    for round_number in range(rounds):
        copies = fresh_copies(pdfs, work / f"round-{round_number}")
        for name, batch in ((new, copies), (again, copies)):
            start = time.perf_counter()
            for pdf in batch:
                await ours(handler, pdf)
            rates[name].append(pages / (time.perf_counter() - start))
        start = time.perf_counter()
        for pdf in pdfs:
            pdfium_alone(pdf.path)
        rates[alone].append(pages / (time.perf_counter() - start))

    print(f"text-layer pages/s: {len(pdfs)} real PDFs, {pages} pages a round, {rounds} rounds")
    for name, (count, characters) in truth.items():
        print(f"  {name:<34} {count:>3} pages {characters:>7} characters")
    print(f"  {'extractor':<20} {'best':>7} {'median':>7}   rounds")
    for name, values in rates.items():
        shown = " ".join(f"{v:.0f}" for v in values)
        print(f"  {name:<20} {max(values):>7.0f} {statistics.median(values):>7.0f}   {shown}")
    for name in (new, again):
        best = max(rates[name]) / max(rates[alone])
        median = statistics.median(rates[name]) / statistics.median(rates[alone])
        print(f"  {name} / {alone}: {best:.2f}x by best, {median:.2f}x by median (target 0.7x)")
    print(
        "  new bytes: pypdf's pre-scan reads every stream first (bombs); same again: a child that"
        " checked a file already skips that pass (as when an upload's probe and its extraction"
        " meet the same child), one that did not runs it"
    )


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
            await text_layer(handler, pdfs, work, rounds)
            if scanned_rounds:
                await scanned(handler, work, scanned_rounds)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--scanned-rounds", type=int, default=2)
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.scanned_rounds))
