"""Description pipeline speed: 100 real photos and documents through the describe jobs.

Uploads every file to an in-process server (variants rendered first, untimed), then runs the
describe jobs one at a time through the same JobRunner the server's workers use, and prints:
images/s, per-stage milliseconds (decode, OCR, tags, people, embedding, catalog) and the
pipeline's overhead: end-to-end time divided by the models' own inference time (OCR + tags +
people + embedding), both measured in this run. The models load at start, as a server with
workers loads them (`warm_models`; --cold: not); the first description after that is timed, then
one more is described untimed, as a running server has run its models already.

With --everyday it describes the ten everyday photos of tests/assets/photos instead (the
server's default worker count unless --workers is given), then reads the same ten photos with
rapidocr alone (its own call and defaults, warm, one after another), in 5 rounds that alternate
the two so that the machine's drift hits both alike (each round's photos are uploaded by a
tenant of its own: analyses are cached per tenant), and prints the rates and the median of the
rounds' ratios (issue 21: the whole description at least as fast as rapidocr alone), then each
side's peak RSS: this process's after the first round (before rapidocr alone is loaded in it),
and rapidocr alone's over a warm pass in a process of its own.

    .venv/bin/python bench/describe.py [--photos 70] [--documents 30] [--workers 1] [--rounds 1]
    .venv/bin/python bench/describe.py --everyday [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import resource
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import httpx
import pyvips
from fastapi import FastAPI
from sqlalchemy import select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from ingest import PHOTOS, make_photos  # noqa: E402
from scopix.server.app import create_app  # noqa: E402
from scopix.server.catalog.models import Analysis  # noqa: E402
from scopix.server.domain.media import media_of_mime  # noqa: E402
from scopix.server.imaging.analysis import decode_for_analysis  # noqa: E402
from scopix.server.services.container import Services  # noqa: E402
from scopix.server.settings import Settings  # noqa: E402
from scopix.server.vision.ondevice import ocr  # noqa: E402

WORDS = (
    *("invoice", "total", "amount", "due", "payment", "order", "delivery", "coffee", "beans"),
    *("kilogram", "price", "tax", "net", "gross", "customer", "address", "street", "city"),
    *("account", "number", "date", "reference", "quantity", "unit", "description"),
    *("Rechnung", "Betrag", "Lieferung", "Kunde", "Straße", "facture", "montant", "livraison"),
)
INFERENCE_STAGES = ("ocr", "tags", "people", "embedding")
MiB = 1 << 20
#: The ten everyday photos (the other two of the folder are pictures of text).
EVERYDAY = (
    *("astronaut.png", "camera.png", "chelsea.png", "coffee.png", "coins.png", "group.png"),
    *("horse.png", "hubble_deep_field.jpg", "motorcycle_left.png", "rocket.jpg"),
)


def make_documents(out: Path, count: int, seed: int = 11) -> list[Path]:
    """Pages of 8 to 16 printed lines at random places, as PNG, like scanned forms."""
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = out / f"document_{i:03d}.png"
        page = pyvips.Image.black(1100, 1500) + 255
        top = 60
        for _ in range(rng.randint(8, 16)):
            line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 7)))
            text = pyvips.Image.text(f"{line} {rng.randint(1, 9999)}", font="sans 28", dpi=72)
            page = page.insert(255 - text, rng.randint(40, 300), top)
            top += text.height + rng.randint(30, 60)
            if top > 1400:
                break
        page.cast("uchar").pngsave(str(path))
        paths.append(path)
    return paths


async def upload_all(client: httpx.AsyncClient, paths: list[Path]) -> None:
    for path in paths:
        response = await client.post(
            "/api/v2/files/upload", files={"file": (path.name, path.read_bytes())}
        )
        response.raise_for_status()


async def describe_all(services: Services, workers: int) -> tuple[float, list[float]]:
    """Run every describe job on `workers` concurrent workers; the wall time and claim times."""
    runner = services.workers.runner
    claims: list[float] = []

    async def work() -> None:
        while True:
            t0 = time.perf_counter()
            job = await runner.claim(("describe",))
            if job is None:
                return
            claims.append((time.perf_counter() - t0) * 1000)
            await runner.run(job)

    start = time.perf_counter()
    await asyncio.gather(*(work() for _ in range(workers)))
    return time.perf_counter() - start, claims


async def stage_timings(services: Services) -> list[dict[str, float]]:
    async with services.workers.runner.uows.read() as uow:
        rows = await uow.session.scalars(select(Analysis))
        return [dict(a.timings_ms) for a in rows]


async def upload_as(services: Services, app: FastAPI, tenant: str, files: list[Path]) -> None:
    """`files` uploaded by a new key of `tenant`, their variants made (untimed)."""
    key = await services.keys.create_key(tenant, tier="custom")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://bench",
        headers={"Authorization": f"Bearer {key.plaintext}"},
        timeout=600,
    ) as client:
        await upload_all(client, files)
    while (job := await services.workers.runner.claim(("variants",))) is not None:
        await services.workers.runner.run(job)


async def main(
    photos: int, documents: int, workers: int, everyday: bool, cold: bool, rounds: int
) -> None:
    scopix_rss = 0
    with tempfile.TemporaryDirectory(prefix="scopix-bench-") as tmp:
        work = Path(tmp)
        if everyday:
            files = [PHOTOS / name for name in EVERYDAY]
        else:
            files = make_photos(work / "photos", photos) + make_documents(work / "docs", documents)
        # No worker pool (the bench runs the jobs itself), sized as `workers` workers would be.
        settings = Settings(
            data_dir=work / "data", workers=0, inference_threads=workers, warm_models=not cold
        )
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            services: Services = app.state.services
            await upload_as(services, app, "bench-0", files)
            if not cold:
                await services.warm_up()
            first_ms = await first_description(services)
            print(f"first description after start: {first_ms:.0f} ms (models warmed: {not cold})")
            alone: RapidocrAlone | None = None
            walls, claims_ms, ratios = [], [], []
            for round_ in range(rounds):
                if round_:  # a tenant of its own: the analyses cached for the last one are not its
                    await upload_as(services, app, f"bench-{round_}", files)
                wall_s, claims = await describe_all(services, workers)
                walls.append(wall_s)
                claims_ms += claims
                if everyday:
                    # Made after the first round, so the peak so far is the pipeline's alone.
                    scopix_rss = scopix_rss or peak_rss()
                    alone = alone or RapidocrAlone(files, services.pipeline.max_side)
                    ratios.append(alone.seconds() / wall_s)
            timings = await stage_timings(services)
        report(len(files) * rounds, workers, sum(walls), claims_ms, timings)
        if alone is not None:
            print(
                f"everyday photos, {rounds} rounds each of the pipeline then rapidocr alone"
                f" (warm, its defaults): described {len(files) / statistics.median(walls):.2f}"
                f" photos/s median ({workers} workers); ratio to rapidocr alone, per round"
                f" {' '.join(f'{r:.2f}' for r in ratios)}, median {statistics.median(ratios):.2f}"
            )
            floor_rss = alone_peak_rss(files, alone.max_side)
            print(
                f"peak RSS: scopix {scopix_rss / MiB:.0f} MiB (the server, its models for"
                f" {workers} workers and the catalog, in this process), rapidocr alone"
                f" {floor_rss / MiB:.0f} MiB (in a process of its own)"
            )


class RapidocrAlone:
    """rapidocr's own call (bundled models, its defaults) reading `paths` one after another,
    warm (a first untimed pass), on the pixels the describe jobs analyse."""

    def __init__(self, paths: list[Path], max_side: int) -> None:
        import rapidocr

        self.max_side = max_side
        models = Path(rapidocr.__file__).resolve().parent / "models"
        self.engine = rapidocr.RapidOCR(
            params={
                "Global.log_level": "error",
                **{f"{task}.model_path": str(models / f) for task, f in ocr._MODEL_FILES.items()},
            }
        )
        self.images = [decode_for_analysis(p, max_side).pixels[:, :, ::-1].copy() for p in paths]
        for bgr in self.images:
            self.engine(bgr)

    def seconds(self) -> float:
        """One timed pass."""
        start = time.perf_counter()
        for bgr in self.images:
            self.engine(bgr)
        return time.perf_counter() - start


def peak_rss() -> int:
    """This process's peak resident memory so far, in bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def alone_peak_rss(paths: list[Path], max_side: int) -> int:
    """rapidocr alone's peak RSS over one warm pass, measured in a process of its own."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        return pool.submit(_alone_pass, paths, max_side).result()


def _alone_pass(paths: list[Path], max_side: int) -> int:
    RapidocrAlone(paths, max_side).seconds()
    return peak_rss()


async def first_description(services: Services) -> float:
    """Milliseconds of the first description after start (decode, analysis, embedding of a
    photo with text, astronaut.png), then one more untimed (coffee.png)."""
    media = media_of_mime("image/png")
    handler = services.media.of(media)
    elapsed = 0.0
    for sample in ("astronaut.png", "coffee.png"):
        start = time.perf_counter()
        inputs = await handler.describe_inputs(
            PHOTOS / sample, media, services.pipeline.max_side, None
        )
        await services.pipeline.describe(inputs)
        elapsed = elapsed or (time.perf_counter() - start) * 1000
    return elapsed


def report(
    count: int, workers: int, wall_s: float, claims_ms: list[float], timings: list[dict]
) -> None:
    stages = sorted({k for t in timings for k in t})
    print(
        f"{count} images described by {workers} worker(s) in {wall_s:.1f} s:"
        f" {count / wall_s:.2f} images/s"
    )
    print(f"{'stage':<12} {'mean ms':>9} {'median ms':>10} {'total s':>8}")
    for stage in stages:
        values = [t.get(stage, 0.0) for t in timings]
        print(
            f"{stage:<12} {statistics.mean(values):>9.1f} {statistics.median(values):>10.1f}"
            f" {sum(values) / 1000:>8.1f}"
        )
    inference_s = sum(t.get(s, 0.0) for t in timings for s in INFERENCE_STAGES) / 1000
    decode_s = sum(t.get("decode", 0.0) for t in timings) / 1000
    # With several workers the stages overlap: compare the workers' busy time, not the wall.
    busy_s = wall_s * workers
    catalog_s = busy_s - inference_s - decode_s
    print(
        f"{'catalog':<12} {catalog_s * 1000 / count:>9.1f} {'':>10} {catalog_s:>8.1f}"
        f"   (claim, commit and scheduling: the rest of the wall time;"
        f" claims alone {statistics.mean(claims_ms):.1f} ms)"
    )
    print(
        f"overhead: end-to-end {busy_s:.1f} worker-s / model inference {inference_s:.1f} s"
        f" = {busy_s / inference_s:.3f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=70)
    parser.add_argument("--documents", type=int, default=30)
    parser.add_argument("--workers", type=int, help="concurrent job workers (default 1)")
    parser.add_argument(
        "--everyday", action="store_true", help="the ten everyday photos, against rapidocr alone"
    )
    parser.add_argument("--cold", action="store_true", help="no model loads before the first job")
    parser.add_argument(
        "--rounds", type=int, help="rounds, each a tenant of its own (default 1; --everyday: 5)"
    )
    args = parser.parse_args()
    default_workers = Settings.model_fields["workers"].default if args.everyday else 1
    workers = args.workers or default_workers
    rounds = args.rounds or (5 if args.everyday else 1)
    asyncio.run(main(args.photos, args.documents, workers, args.everyday, args.cold, rounds))
