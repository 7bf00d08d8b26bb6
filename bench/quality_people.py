"""People detection quality and speed on the labeled set (tests/assets/people/labels.json).

Each labeled photo is searched as it is, mirrored and shrunk to 60 % (the variants
tests/integration/vision/test_people.py checks), by the detector the analyzer uses, on one
thread. Prints a row per photo (the people labeled, those found in each variant, the best
milliseconds of `--repeats`), then per class (photos with people, photos without) the people
found of those labeled, the people found that are not there, the photos counted exactly, and
the mean milliseconds: a change that helps one class and hurts the other shows in its row.

    .venv/bin/python bench/quality_people.py [--repeats 3]
"""

from __future__ import annotations

# isort: off
import scopix.server  # noqa: F401  # first: it caps numpy's threads as the server does

# isort: on
import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
from PIL import Image

from scopix.server.vision.base import DecodedImage
from scopix.server.vision.ondevice.people import PeopleDetector

ASSETS = Path(__file__).resolve().parent.parent / "tests" / "assets"
LABELS: dict[str, int] = json.loads((ASSETS / "people" / "labels.json").read_text())


def variants(path: Path) -> dict[str, DecodedImage]:
    """The photo as it is, mirrored, and shrunk to 60 %."""
    image = Image.open(path).convert("RGB")
    shrunk = image.resize((image.width * 3 // 5, image.height * 3 // 5))
    pixels = np.asarray(image)
    seen = {
        "as it is": pixels,
        "mirrored": np.ascontiguousarray(pixels[:, ::-1]),
        "shrunk": np.asarray(shrunk),
    }
    return {how: DecodedImage(pixels=p, jpeg=b"") for how, p in seen.items()}


def best_ms(detector: PeopleDetector, image: DecodedImage, repeats: int) -> tuple[int, float]:
    """The people counted and the fastest of `repeats` detections, in milliseconds."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        count = detector.detect(image).count
        times.append((time.perf_counter() - started) * 1000)
    return count, min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    import cv2

    cv2.setNumThreads(1)  # as the analyzer holds OpenCV to its share of the cores
    detector = PeopleDetector(threads=1)
    detector.load()
    print(f"detector: {detector.fingerprint}")
    print(f"{'photo':30s} labeled  found (as it is, mirrored, shrunk)  ms")
    totals: dict[str, dict[str, float]] = {}
    times: dict[str, list[float]] = {"with people": [], "without people": []}
    for name, labeled in LABELS.items():
        kind = "with people" if labeled else "without people"
        row = totals.setdefault(kind, {"labeled": 0, "found": 0, "extra": 0, "exact": 0, "n": 0})
        counts = []
        for image in variants(ASSETS / name).values():
            count, ms = best_ms(detector, image, args.repeats)
            counts.append(count)
            times[kind].append(ms)
            row["labeled"] += labeled
            row["found"] += min(count, labeled)
            row["extra"] += max(count - labeled, 0)
            row["exact"] += count == labeled
            row["n"] += 1
        mean_ms = statistics.mean(times[kind][-len(counts) :])
        print(f"{name:30s} {labeled:7d}  {counts!s:34s} {mean_ms:5.1f}")
    print()
    print(f"{'class':16s} {'people found':>14s} {'not there':>10s} {'exact':>8s} {'mean ms':>8s}")
    for kind, row in totals.items():
        found = f"{row['found']:.0f}/{row['labeled']:.0f}"
        exact = f"{row['exact']:.0f}/{row['n']:.0f}"
        mean_ms = statistics.mean(times[kind])
        print(f"{kind:16s} {found:>14s} {row['extra']:10.0f} {exact:>8s} {mean_ms:8.1f}")


if __name__ == "__main__":
    main()
