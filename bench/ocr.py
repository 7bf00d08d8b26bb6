"""OCR of scanned pages and photos: the reader before issue 17 against today's, in one process.

"before" is rapidocr's own call as TextReader made it until issue 17 (its detector at most
1280 px, its angle classifier on whole lines); "now" is TextReader; "rapidocr" is rapidocr's
defaults (the issue's reference). Pages are drawn by tests/pagefactory.py with their text;
photos are phone-sized JPEGs made from the test photos, decoded as the describe pipeline
decodes them (longest side 2048). Each image is read by each reader in turn, `--repeats` times,
and the best time counts. Prints seconds and character similarity per page, seconds per photo,
and the ratios now / before.

    .venv/bin/python bench/ocr.py [--repeats 2] [--photos 12] [--threads 1]
"""

from __future__ import annotations

import argparse
import difflib
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

from ingest import PHOTOS, make_photos  # noqa: E402
from pagefactory import Page, draw_dense_page, draw_invoice_page  # noqa: E402
from scopix.server.domain.regions import RawLine, TextRegion, join_text, text_regions  # noqa: E402
from scopix.server.imaging.analysis import decode_for_analysis  # noqa: E402
from scopix.server.vision.base import DecodedImage, Pixels  # noqa: E402
from scopix.server.vision.ondevice import TextReader, ocr  # noqa: E402

DESCRIBE_MAX_SIDE = 2048
Reader = Callable[[Pixels], tuple[TextRegion, ...]]


def rapidocr_reader(threads: int, **settings: Any) -> Reader:
    """rapidocr's own call on the bundled models, with `settings` over its defaults."""
    import rapidocr

    models = Path(rapidocr.__file__).resolve().parent / "models"
    params: dict[str, Any] = {
        "Global.log_level": "error",
        "EngineConfig.onnxruntime.intra_op_num_threads": threads,
        "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        **{f"{task}.model_path": str(models / f) for task, f in ocr._MODEL_FILES.items()},
        **settings,
    }
    engine = rapidocr.RapidOCR(params=params)
    engine._load_det_model()
    engine._load_cls_model()
    engine._load_rec_model()

    def read(pixels: Pixels) -> tuple[TextRegion, ...]:
        pixels = ocr._upscaled(pixels)
        output: Any = engine(ocr._padded_bgr(pixels))
        lines = [
            RawLine([(float(x), float(y)) for x, y in box], str(text), float(score))
            for box, text, score in zip(
                output.boxes if output.boxes is not None else [],
                output.txts or (),
                output.scores or (),
                strict=True,
            )
        ]
        return text_regions(lines, pixels.shape[1], pixels.shape[0])

    return read


def readers(threads: int) -> dict[str, Reader]:
    today = TextReader(threads=threads)
    today.load()
    return {
        "before": rapidocr_reader(
            threads,
            **{"Global.text_score": 0.5, "Det.limit_type": "max", "Det.limit_side_len": 1280},
        ),
        "now": lambda pixels: today.read(DecodedImage(pixels=pixels, jpeg=b"")),
        "rapidocr": rapidocr_reader(threads),
    }


def similarity(read_text: str, truth: str) -> float:
    a, b = " ".join(read_text.split()), " ".join(truth.split())
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def shrunk(image: Image.Image, max_side: int) -> Image.Image:
    scale = max_side / max(image.size)
    return image.resize((round(image.width * scale), round(image.height * scale)))


def pages() -> dict[str, tuple[Page, Image.Image]]:
    dense = draw_dense_page()
    invoice = draw_invoice_page()
    return {
        "dense A4 9 pt, 2480x3508": (dense, dense.image),
        "dense 9 pt, 2480x1754": (half := draw_dense_page(2480, 1754), half.image),
        "dense A4 at 2048 (describe)": (dense, shrunk(dense.image, DESCRIBE_MAX_SIDE)),
        "invoice A4, 2480x3508": (invoice, invoice.image),
        "invoice A4 at 2048 (describe)": (invoice, shrunk(invoice.image, DESCRIBE_MAX_SIDE)),
        "receipt 3.5 pt, 1240x3508": (
            receipt := draw_dense_page(1240, 3508, lines=40, font_pt=3.5),
            receipt.image,
        ),
    }


def photos(count: int) -> dict[str, Pixels]:
    made = make_photos(Path(tempfile.mkdtemp(prefix="scopix-ocr-bench-")), count)
    real = sorted(p for p in PHOTOS.iterdir() if p.suffix in (".png", ".jpg"))
    return {p.name: decode_for_analysis(p, max_side=DESCRIBE_MAX_SIDE).pixels for p in made + real}


def best_times(
    readers: dict[str, Reader], pixels: Pixels, repeats: int
) -> dict[str, tuple[float, tuple[TextRegion, ...]]]:
    """Each reader's best time over `repeats` rounds, the readers taking turns in each round."""
    best: dict[str, tuple[float, tuple[TextRegion, ...]]] = {}
    for _ in range(repeats):
        for name, read in readers.items():
            start = time.perf_counter()
            regions = read(pixels)
            elapsed = time.perf_counter() - start
            if name not in best or elapsed < best[name][0]:
                best[name] = (elapsed, regions)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--photos", type=int, default=12)
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime threads per model")
    args = parser.parse_args()
    engines = readers(args.threads)
    names = list(engines)

    print(f"pages (best of {args.repeats}; s = seconds, sim = character similarity)")
    print(f"{'page':32}" + "".join(f"{name:>20}" for name in names) + f"{'now/before':>12}")
    for label, (page, image) in pages().items():
        pixels = np.asarray(image.convert("RGB"))
        results = best_times(engines, pixels, args.repeats)
        cells = "".join(
            f"{seconds:8.2f} s sim {similarity(join_text(regions), page.text):.3f}"
            for seconds, regions in results.values()
        )
        ratio = results["now"][0] / results["before"][0]
        print(f"{label:32}{cells}{ratio:11.2f}x", flush=True)

    totals = dict.fromkeys(names, 0.0)
    ratios = []
    for pixels in photos(args.photos).values():
        results = best_times(engines, pixels, args.repeats)
        for name, (seconds, _regions) in results.items():
            totals[name] += seconds
        ratios.append(results["now"][0] / results["before"][0])
    count = len(ratios)
    print(f"\nphotos: {count} at up to {DESCRIBE_MAX_SIDE} px (best of {args.repeats})")
    for name in names:
        print(f"  {name:10} {totals[name] / count:6.3f} s per photo")
    print(
        f"  now/before: {totals['now'] / totals['before']:.2f}x in total, "
        f"median per photo {statistics.median(ratios):.2f}x, "
        f"range {min(ratios):.2f}-{max(ratios):.2f}x"
    )


if __name__ == "__main__":
    main()
