"""Search quality on the labeled library: MRR, top-1 and top-2 per query language, before and
after the ranking changes of issue 20, for semantic and for `all` (hybrid) search, described
on-device and with a vision-language model.

    .venv/bin/python bench/quality_search.py

The library (tests/assets/quality/library.json: eleven photos, a second cat, a generated
invoice and screenshot) is uploaded to an in-process server. Each query of
tests/assets/quality/queries.json names its language and the files a person asking it wants;
a query scores by the rank of the first of them. "other named" counts the other-language
queries whose file the analyzers named (its description or tags say a word of library.json's
`named_by`): where they did not, no ranking can find it, so that row tells ranking apart from
recognition.

Two descriptions of the library are measured:
- ON-DEVICE: the real on-device models alone (no VLM configured). The catalog is kept under
  ~/.cache/scopix-bench/quality-search, one tenant per pipeline fingerprint: the first run
  describes every file (a minute or two on two cores), reruns read the descriptions back.
  What it can find is bounded by what the models recognise (ImageNet's 1000 classes, OCR).
- WITH A VLM: the same pipeline with a VLM provider configured, served by the scripted
  OpenAI-compatible server of tests/vlmserver.py over real HTTP, which answers each file with
  the `vlm` description and tags written beside it in library.json. It measures what the
  ranking makes of good descriptions, in English, for queries in four languages. Its catalog
  is a temporary one: the server's port is part of the pipeline fingerprint.

AFTER is the server as it is: the file service behind GET /files?search=... BEFORE is the
ranking as it was before issue 20, rebuilt here from the same descriptions: each file's
passage embedding of description + tags + visible text, plus 0.15 x the tag bridge (class names
embedded as passages, weights above the 0.9 quantile), every file listed; `all` fused the
full-text ranking with that one by reciprocal rank fusion.
"""

from __future__ import annotations

# isort: off
import scopix.server  # noqa: F401  # first: it caps numpy's threads as the server does

# isort: on
import asyncio
import json
import re
import sys
import tempfile
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy import select

from scopix.server.app import create_app
from scopix.server.catalog.models import Analysis, File
from scopix.server.domain.listing import file_query
from scopix.server.domain.ranking import reciprocal_rank_fusion
from scopix.server.services.container import Services
from scopix.server.settings import Settings
from scopix.server.vision.ondevice import E5Embedder
from scopix.server.vision.ondevice.tagger import class_synonyms

TESTS = Path(__file__).resolve().parent.parent / "tests"
sys.path.insert(0, str(TESTS))  # for the scripted VLM server

from vlmserver import FakeVLMServer  # noqa: E402

ASSETS = TESTS / "assets"
QUALITY = ASSETS / "quality"
CACHE = Path.home() / ".cache" / "scopix-bench" / "quality-search"
FILES = "/api/v2/files"
MODES = ("semantic", "all")
COUNTED_QUERIES = ("kitty", "cat")

# The ranking before issue 20 (services/search.py and vision/tagbridge.py at abb665d).
BEFORE_BRIDGE_WEIGHT = 0.15
BEFORE_BASELINE_QUANTILE = 0.9


@dataclass(frozen=True)
class Query:
    text: str
    language: str
    relevant: frozenset[str]


@dataclass(frozen=True)
class Library:
    """The uploaded library: file ids by name, and each file's analysis."""

    client: httpx.AsyncClient
    services: Services
    tenant_id: str
    ids: dict[str, str]
    analyses: dict[str, Analysis]

    def name_of(self, file_id: str) -> str:
        return next(name for name, i in self.ids.items() if i == file_id)


def load_queries() -> list[Query]:
    rows = json.loads((QUALITY / "queries.json").read_text())["queries"]
    return [Query(r["text"], r["language"], frozenset(r["relevant"])) for r in rows]


@asynccontextmanager
async def library(vlm: FakeVLMServer | None = None) -> AsyncIterator[Library]:
    """The library uploaded and described under this pipeline's tenant: on-device and kept in
    the cache (described once), or with the scripted `vlm` in a temporary catalog."""
    with tempfile.TemporaryDirectory(prefix="scopix-quality-") as scratch:
        root = CACHE if vlm is None else Path(scratch)
        root.mkdir(parents=True, exist_ok=True)
        settings = Settings(
            data_dir=root / "data",
            database_url=f"sqlite+aiosqlite:///{root / 'catalog.db'}",
            workers=0,
            retry_base_seconds=0,
            **_vlm_settings(vlm),
        )
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            services: Services = app.state.services
            tenant = f"quality-{services.pipeline.fingerprint[:16]}"
            key = await services.keys.create_key(tenant, tier="starter")
            transport = httpx.ASGITransport(app=app)
            headers = {"Authorization": f"Bearer {key.plaintext}"}
            async with httpx.AsyncClient(
                transport=transport, base_url="http://testserver", headers=headers
            ) as client:
                ids = await _upload_all(client, services, vlm)
                assert services.files.semantic is not None
                await asyncio.to_thread(services.files.semantic.wait_for_bridge, 600)
                tenant_id, analyses = await _analyses(services, ids)
                yield Library(client, services, tenant_id, ids, analyses)


def _vlm_settings(vlm: FakeVLMServer | None) -> dict[str, Any]:
    if vlm is None:
        return {}
    return {"vlm_base_url": vlm.base_url, "vlm_model": vlm.model, "vlm_api_key": "bench"}


async def _upload_all(
    client: httpx.AsyncClient, services: Services, vlm: FakeVLMServer | None
) -> dict[str, str]:
    """Upload and describe each file in turn, so the VLM answers it with its own words."""
    entries = json.loads((QUALITY / "library.json").read_text())["files"]
    ids = {}
    described = 0
    for entry in entries:
        if vlm is not None:
            vlm.behave("ok", key_elements=[], visible_text="", **entry["vlm"])
        path = ASSETS / entry["path"]
        response = await client.post(
            f"{FILES}/upload",
            files={"file": (path.name, path.read_bytes())},
            data={"skip_duplicates": "true"},
        )
        assert response.status_code in (200, 201), response.text
        ids[entry["name"]] = str(response.json()["image_id"])
        described += await _drain(services)
    if described:
        print(f"ran {described} jobs to describe the library", flush=True)
    return ids


async def _drain(services: Services) -> int:
    runner = services.workers.runner
    ran = 0
    while (job := await runner.claim(None)) is not None:
        await runner.run(job)
        ran += 1
    return ran


async def _analyses(services: Services, ids: dict[str, str]) -> tuple[str, dict[str, Analysis]]:
    async with services.files.uows.read() as uow:
        rows = (
            await uow.session.execute(
                select(File, Analysis)
                .join(
                    Analysis,
                    (Analysis.tenant_id == File.tenant_id)
                    & (Analysis.sha256 == File.sha256)
                    & (Analysis.pipeline == File.analysis_pipeline),
                )
                .where(File.id.in_(list(ids.values())))
            )
        ).all()
    by_id = {file.id: analysis for file, analysis in rows}
    tenant_id = rows[0][0].tenant_id
    return tenant_id, {name: by_id[file_id] for name, file_id in ids.items()}


# --- after: the server as it is -------------------------------------------------------------


async def after(lib: Library, text: str, mode: str) -> tuple[list[str], int]:
    """The names the server lists for a query (up to 100) and its total_count: the service
    behind GET /files, called directly (54 queries a mode run past the API's rate limit)."""
    query = file_query(search=text, search_mode=mode, limit=100)
    page = await lib.services.files.page(lib.tenant_id, query)
    return [lib.name_of(view.file.id) for view in page.items], page.total_count


# --- before: the ranking of abb665d, rebuilt from the same analyses ---------------------------


class Before:
    """The pre-issue-20 ranking over the library's analyses."""

    def __init__(self, lib: Library, embedder: E5Embedder) -> None:
        self.lib = lib
        self.embedder = embedder
        self.names = list(lib.ids)
        texts = [_before_passage(lib.analyses[name]) for name in self.names]
        self.passages = np.array([embedder.embed(t, query=False) for t in texts], np.float32)
        self.classes = _before_class_vectors(embedder)

    async def ranked(self, text: str, mode: str) -> tuple[list[str], int]:
        query = np.asarray(self.embedder.embed(text, query=True), np.float32)
        weights = _before_weights(self.classes @ query)
        scores = self.passages @ query + BEFORE_BRIDGE_WEIGHT * np.array(
            [_bridge(weights, self.lib.analyses[name].class_scores) for name in self.names]
        )
        by_meaning = [self.names[i] for i in np.argsort(-scores, kind="stable")]
        if mode == "semantic":
            return by_meaning, len(by_meaning)
        async with self.lib.services.files.uows.read() as uow:
            words = await uow.files.ranked_ids(self.lib.tenant_id, file_query(search=text))
        by_words = [self.lib.name_of(i) for i in words]
        fused = reciprocal_rank_fusion([by_words, by_meaning])
        return fused, len(fused)


def _before_passage(analysis: Analysis) -> str:
    parts = [analysis.description, ", ".join(analysis.tags), analysis.visible_text or ""]
    return "\n".join(p for p in parts if p)[:2000]


def _before_class_vectors(embedder: E5Embedder) -> np.ndarray[Any, Any]:
    path = CACHE / "before-class-vectors.npy"
    if path.exists():
        return np.load(path)
    vectors = np.array([embedder.embed(t, query=False) for t in class_synonyms()], np.float32)
    np.save(path, vectors)
    return vectors


def _before_weights(similarities: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    baseline = np.quantile(similarities, BEFORE_BASELINE_QUANTILE)
    span = similarities.max() - baseline
    if span <= 0:
        return np.zeros_like(similarities)
    return np.maximum((similarities - baseline) / span, 0)


def _bridge(weights: np.ndarray[Any, Any], class_scores: Sequence[Sequence[float]] | None) -> float:
    return float(sum(p * weights[int(i)] for i, p in (class_scores or [])[:10]))


# --- scoring -------------------------------------------------------------------------------


def first_relevant_rank(ranking: Sequence[str], relevant: frozenset[str]) -> int | None:
    return next((n for n, name in enumerate(ranking, 1) if name in relevant), None)


def table(
    ranks: Sequence[tuple[str, int | None, bool]],
) -> dict[str, tuple[float, float, float, int]]:
    """Per language, for all, for other languages, and for other-language queries whose file
    the analyzers named ("other named"): MRR, top-1, top-2 and the query count."""
    by_language: dict[str, list[int | None]] = defaultdict(list)
    for language, rank, named in ranks:
        by_language[language].append(rank)
        by_language["all"].append(rank)
        if language != "en":
            by_language["other"].append(rank)
            if named:
                by_language["other named"].append(rank)
    return {
        language: (
            float(np.mean([1 / r if r else 0.0 for r in found])),
            float(np.mean([r == 1 for r in found])),
            float(np.mean([r is not None and r <= 2 for r in found])),
            len(found),
        )
        for language, found in sorted(by_language.items())
    }


def named_files(lib: Library) -> set[str]:
    """The files whose description or tags name their subject (library.json's `named_by`)."""
    entries = json.loads((QUALITY / "library.json").read_text())["files"]
    named = set()
    for entry in entries:
        analysis = lib.analyses[entry["name"]]
        said = " ".join([analysis.description, *analysis.tags])
        if any(
            re.search(rf"\b{re.escape(word)}", said, re.IGNORECASE) for word in entry["named_by"]
        ):
            named.add(entry["name"])
    return named


Ranker = Callable[[str, str], Any]


async def measure(
    queries: Sequence[Query], rank: Ranker, mode: str, named: set[str]
) -> tuple[dict[str, tuple[float, float, float, int]], list[str]]:
    ranks = []
    misses = []
    for query in queries:
        ranking, _ = await rank(query.text, mode)
        found = first_relevant_rank(ranking, query.relevant)
        ranks.append((query.language, found, bool(query.relevant & named)))
        if found is None or found > 2:
            misses.append(f"{query.text!r}: {found} ({', '.join(ranking[:3])})")
    return table(ranks), misses


async def run() -> None:
    queries = load_queries()
    print("-- on-device (no VLM configured) --", flush=True)
    async with library() as lib:
        await report_library(lib, queries)
    print("\n-- with a VLM (scripted answers from library.json, over HTTP) --", flush=True)
    with FakeVLMServer() as vlm:
        async with library(vlm) as lib:
            await report_library(lib, queries)


async def report_library(lib: Library, queries: Sequence[Query]) -> None:
    for name, analysis in lib.analyses.items():
        text = (analysis.visible_text or "").replace("\n", " ")[:60]
        print(f"  {name:15} {analysis.description[:70]!r} tags={analysis.tags[:5]} {text!r}")
    named = named_files(lib)
    print(f"  named by the analyzers: {', '.join(sorted(named))}")
    before = Before(lib, E5Embedder())
    rankers: dict[str, Ranker] = {"before": before.ranked, "after": partial_after(lib)}
    for mode in MODES:
        print(f"\n{mode} search: MRR / top-1 / top-2 per query language")
        print(f"  {'language':11} {'queries':>7}  {'before':>20}  {'after':>20}")
        results = {label: await measure(queries, r, mode, named) for label, r in rankers.items()}
        for language, (mrr, top1, top2, count) in results["before"][0].items():
            a_mrr, a_top1, a_top2, _ = results["after"][0][language]
            print(
                f"  {language:11} {count:7}  {mrr:6.3f} {top1:6.0%} {top2:6.0%}"
                f"  {a_mrr:6.3f} {a_top1:6.0%} {a_top2:6.0%}"
            )
        for label, (_, misses) in results.items():
            print(f"  {label} misses top-2: " + "; ".join(misses) if misses else f"  {label}: -")
    print(f"\nfiles listed (of {len(lib.ids)})")
    for text in COUNTED_QUERIES:
        for mode in MODES:
            _, old_total = await before.ranked(text, mode)
            new, new_total = await after(lib, text, mode)
            print(f"  {text!r:8} {mode:9} before {old_total:3}  after {new_total:3}: {new}")


def partial_after(lib: Library) -> Ranker:
    async def ranked(text: str, mode: str) -> tuple[list[str], int]:
        return await after(lib, text, mode)

    return ranked


def report() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    report()
