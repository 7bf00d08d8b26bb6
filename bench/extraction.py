"""Custom extraction quality on the labeled set (tests/assets/extraction): the on-device field
extractor against each image's ground truth, per class of image and per kind of field.

Each `<name>.truth.json` there holds {"class", "schema", "data"}; `data` has the values an
extraction must read and null for fields the image does not show. Every image is decoded as the
describe pipeline decodes it (`decode_for_analysis`), read by the OCR router the on-device
analyzer uses (its regions stored and loaded back as the catalog does), then filled by
`OnDeviceFieldExtractor` with the schema. Each leaf field counts as:

* correct:  the truth's value (numbers by value, strings trimmed and case-insensitive);
* wrong:    a different value where the truth has one (the worst: it looks like an answer);
* missed:   null where the truth has a value;
* invented: a value where the truth is null (the extractor must never invent one);
* null ok:  null where the truth is null;

precision = correct / values given, recall = correct / values in the truth. Printed: one row per
image (the OCR engine, OCR and extraction milliseconds, best of `--repeats`) with every field
that was not correct, then the counts per class, per kind of field (string, date, number,
contact = email/phone/uri, enum/bool) and in all. A trivial baseline (a field's own name as a
label on the same line, then a naive reading of the rest of the line) runs on the same OCR text
in the same process; the last line compares the two, so a change shows as relative numbers.

    .venv/bin/python bench/extraction.py [--repeats 3] [--show-ocr]

Exits non-zero only on a crash: the numbers are for reading, not a gate.
"""

from __future__ import annotations

# isort: off
import scopix.server  # noqa: F401  # first: it caps numpy's threads as the server does

# isort: on
import argparse
import asyncio
import json
import re
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scopix.server.domain.extraction_schemas import FieldSpec, leaf_fields
from scopix.server.domain.regions import TextRegion, as_record, from_record
from scopix.server.imaging.analysis import decode_for_analysis
from scopix.server.vision.fields.base import FieldRequest
from scopix.server.vision.fields.ondevice import OnDeviceFieldExtractor
from scopix.server.vision.ondevice.ocr_router import OcrRouter

SET = Path(__file__).resolve().parent.parent / "tests" / "assets" / "extraction"
OUTCOMES = ("correct", "wrong", "missed", "invented", "null ok")
KINDS = ("string", "date", "number", "contact", "enum/bool")
_CONTACT_FORMATS = frozenset({"email", "idn-email", "uri", "iri", "url", "phone", "tel"})
_CONTACT_NAMES = re.compile(r"email|phone|fax|mobile|url|website|uri")


@dataclass(frozen=True)
class Item:
    """One image of the set and its ground truth."""

    name: str
    kind: str
    schema: dict[str, Any]
    data: dict[str, Any]


def labeled_set() -> list[Item]:
    """Every image with a truth file; the class is the name's first part when not given."""
    items = []
    for path in sorted(SET.glob("*.truth.json")):
        truth = json.loads(path.read_text(encoding="utf-8"))
        name = path.name.removesuffix(".truth.json")
        kind = truth.get("class") or name.split("_", 1)[0]
        items.append(Item(name, kind, truth["schema"], truth["data"]))
    return items


def field_kind(field: FieldSpec) -> str:
    """Which kind of field the bench reports it under."""
    if field.enum is not None or "boolean" in field.types:
        return "enum/bool"
    if {"integer", "number"} & set(field.types):
        return "number"
    if field.format in ("date", "date-time"):
        return "date"
    if field.format in _CONTACT_FORMATS or _CONTACT_NAMES.search(field.name):
        return "contact"
    return "string"


def at_path(data: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path, None where the path runs out."""
    value: Any = data
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def same(got: Any, truth: Any) -> bool:
    """Numbers by value (a bool is no number), strings trimmed, spaces collapsed, any case."""
    if isinstance(truth, bool) or isinstance(got, bool):
        return got is truth
    if isinstance(truth, int | float):
        return isinstance(got, int | float) and abs(got - truth) < 1e-9
    return " ".join(str(got).split()).casefold() == " ".join(str(truth).split()).casefold()


def outcome(got: Any, truth: Any) -> str:
    if truth is None:
        return "null ok" if got is None else "invented"
    if got is None:
        return "missed"
    return "correct" if same(got, truth) else "wrong"


# -- the baseline: a field's own name as a label, on the same line ---------------------------


_NUMBER = re.compile(r"-?[0-9][0-9,]*(?:\.[0-9]+)?")


def baseline(schema: Mapping[str, Any], regions: Sequence[TextRegion]) -> dict[str, Any]:
    """Per leaf path: the text after the field's name (as words) and an optional ":" or "#" on
    one line, read naively (numbers with "," as thousands, anything else as written)."""
    found: dict[str, Any] = {}
    for field in leaf_fields(schema):
        label = r"\s*".join(map(re.escape, re.findall(r"[a-z0-9]+", field.name.lower())))
        pattern = re.compile(rf"\b{label}\b\s*[:#]?\s*(\S.*)", re.IGNORECASE)
        match = next((m for r in regions if (m := pattern.search(r.text))), None)
        if match is None:
            continue
        text = match.group(1).strip()
        if field.enum is not None or "boolean" in field.types:
            words = {str(v).casefold(): v for v in field.enum or (True, False)}
            words |= {"yes": True, "no": False} if field.enum is None else {}
            found[field.path] = words.get(text.casefold())
        elif {"integer", "number"} & set(field.types):
            number = _NUMBER.search(text)
            found[field.path] = float(number.group().replace(",", "")) if number else None
        else:
            found[field.path] = text
    return found


# -- measuring ---------------------------------------------------------------------------------


@dataclass
class Tally:
    counts: Counter[str]

    def add(self, result: str) -> None:
        self.counts[result] += 1

    def row(self) -> str:
        c = self.counts
        given = c["correct"] + c["wrong"] + c["invented"]
        held = c["correct"] + c["wrong"] + c["missed"]
        precision = c["correct"] / given if given else 1.0
        recall = c["correct"] / held if held else 1.0
        cells = "".join(f"{c[o]:>9d}" for o in OUTCOMES)
        return f"{cells}{precision:>11.2f}{recall:>8.2f}"


HEADER = "".join(f"{o:>9s}" for o in OUTCOMES) + f"{'precision':>11s}{'recall':>8s}"


def tally() -> Tally:
    return Tally(Counter())


@dataclass(frozen=True)
class Reading:
    regions: tuple[TextRegion, ...]
    engine: str
    ocr_ms: float


def read(router: OcrRouter, item: Item, repeats: int) -> Reading:
    """The OCR regions of the image as the catalog would hand them to the extractor."""
    image = decode_for_analysis(SET / f"{item.name}.png")
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        reading = router.read_with_engine(image)
        times.append((time.perf_counter() - start) * 1000)
    regions = tuple(from_record(as_record(r)) for r in reading.regions)
    return Reading(regions, reading.engine, min(times))


async def extract(item: Item, regions: tuple[TextRegion, ...], repeats: int) -> tuple[Any, float]:
    """The extractor's data for the image, and its best milliseconds."""
    extractor = OnDeviceFieldExtractor()
    request = FieldRequest(item.schema, None, regions, "\n".join(r.text for r in regions))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        found = await extractor.extract(request)
        times.append((time.perf_counter() - start) * 1000)
    return found.data, min(times)


def show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def report(repeats: int, show_ocr: bool) -> None:
    router = OcrRouter()
    router.load()
    items = labeled_set()
    by_class: dict[str, Tally] = {}
    by_kind = {kind: tally() for kind in KINDS}
    total, base = tally(), tally()
    base_by_class: dict[str, Tally] = {}
    print(f"{'image':22s}{'class':11s}{'ocr':10s}{'ocr ms':>8s}{'fields ms':>10s}  result")
    for item in items:
        reading = read(router, item, repeats)
        data, fields_ms = asyncio.run(extract(item, reading.regions, repeats))
        guessed = baseline(item.schema, reading.regions)
        counts: Counter[str] = Counter()
        notes = []
        for field in leaf_fields(item.schema):
            truth, got = at_path(item.data, field.path), at_path(data, field.path)
            result = outcome(got, truth)
            counts[result] += 1
            for t in (by_class.setdefault(item.kind, tally()), by_kind[field_kind(field)], total):
                t.add(result)
            base_result = outcome(guessed.get(field.path), truth)
            base.add(base_result)
            base_by_class.setdefault(item.kind, tally()).add(base_result)
            if result not in ("correct", "null ok"):
                notes.append(
                    f"    {result.upper():9s}{field.path} ({field_kind(field)}): "
                    f"expected {show(truth)}, got {show(got)}"
                )
        summary = " ".join(f"{o} {counts[o]}" for o in OUTCOMES if counts[o])
        print(
            f"{item.name:22s}{item.kind:11s}{reading.engine:10s}"
            f"{reading.ocr_ms:8.0f}{fields_ms:10.2f}  {summary}"
        )
        if show_ocr:
            for region in reading.regions:
                print(f"    | {region.text}")
        for note in notes:
            print(note)
    print()
    print(f"{'class':24s}{HEADER}")
    for kind, t in sorted(by_class.items()):
        print(f"{kind:24s}{t.row()}")
    print(f"\n{'field kind':24s}{HEADER}")
    for kind, t in by_kind.items():
        print(f"{kind:24s}{t.row()}")
    print(f"\n{'all':24s}{HEADER}")
    print(f"{'ondevice-fields':24s}{total.row()}")
    print(f"{'baseline (same line)':24s}{base.row()}")
    for kind, t in sorted(base_by_class.items()):
        print(f"{'  baseline ' + kind:24s}{t.row()}")
    print()
    print(ratio_line(total.counts, base.counts))


def ratio_line(ours: Counter[str], theirs: Counter[str]) -> str:
    """The extractor against the baseline: correct values, and bad ones (wrong + invented)."""

    def times(a: int, b: int) -> str:
        return f"x{a / b:.2f}" if b else "x-"

    bad_ours, bad_theirs = ours["wrong"] + ours["invented"], theirs["wrong"] + theirs["invented"]
    return (
        f"ondevice-fields / baseline: correct {ours['correct']}/{theirs['correct']} "
        f"({times(ours['correct'], theirs['correct'])}), wrong+invented {bad_ours}/{bad_theirs} "
        f"({times(bad_ours, bad_theirs)}), missed {ours['missed']}/{theirs['missed']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timings: best of this many")
    parser.add_argument("--show-ocr", action="store_true", help="print each image's OCR lines")
    args = parser.parse_args()
    report(max(args.repeats, 1), args.show_ocr)


if __name__ == "__main__":
    main()
