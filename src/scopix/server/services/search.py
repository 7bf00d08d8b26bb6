"""Semantic search and similar images over vectors kept in memory, fresh from the catalog.

The catalog is the source of truth: analyses hold each file's text embedding, image features
and ImageNet class scores. This process keeps them in `VectorIndex`es per tenant and, before
every query, reads what changed since it last looked (files carry `updated_at`, indexed per
tenant), so a description committed a moment ago is found and a deleted file never is.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import Any, Final

import anyio
import numpy as np

from scopix.server.catalog.uow import UnitOfWorkFactory
from scopix.server.catalog.vector_snapshots import Snapshot, VectorSnapshots
from scopix.server.domain.relevance import (
    REFERENCE_QUERIES,
    above_floor,
    relevance,
    similarity_profile,
)
from scopix.server.services.vector_index import TenantRows, VectorIndex
from scopix.server.vision.base import TextEmbedder
from scopix.server.vision.tagbridge import (
    CLASS_SLOTS,
    TagBridge,
    pack_class_scores,
    packed_scores,
    shipped_query_vectors,
)

log = logging.getLogger("scopix.search")

#: How many files a semantic query weighs: its nearest, as vector search does; those that reach
#: the relevance floor are its matches (domain/relevance.py), and filters then apply to these.
SEMANTIC_CANDIDATES: Final = 100
#: How much the ImageNet tag bridge adds to a text similarity when the candidates are picked
#: (e5 cosines sit in 0.7-0.9, so a bridge score near 1 lifts a photo whose text says nothing
#: above ones that only share words); the candidates are then weighed by `relevance`.
BRIDGE_WEIGHT: Final = 0.15
TEXT_DIMENSIONS: Final = 384
IMAGE_DIMENSIONS: Final = 1280
#: A text row's payload: its packed class scores (tagbridge.pack_class_scores), then the mean
#: and the spread of its similarities to REFERENCE_QUERIES.
_CLASSES_WIDTH: Final = 2 * CLASS_SLOTS
_MEAN: Final = _CLASSES_WIDTH
_SPREAD: Final = _CLASSES_WIDTH + 1
_PAYLOAD_WIDTH: Final = _CLASSES_WIDTH + 2
#: A tenant whose catalog read brought at least this many rows has them kept in a snapshot
#: (catalog/vector_snapshots.py), and again once this many more have changed: smaller ones
#: read from the catalog in well under a second.
SNAPSHOT_ROWS: Final = 2_000
#: Bump when what a snapshot's rows hold changes for the same embedder (the payload's layout,
#: the quantization): older snapshots are then ignored.
_SNAPSHOT_REVISION: Final = 2  # 2: text rows refined


class SemanticIndex:
    """Per-tenant text embeddings, class scores and image features of described files.

    Text rows are read on a tenant's first query, image features only on its first request for
    similar images: a semantic query after a restart waits for the 1.5 kB of text vector per
    file, not the 5 kB of image features too. Both are kept as int8 (see VectorIndex).
    """

    def __init__(
        self,
        uows: UnitOfWorkFactory,
        embedder: TextEmbedder,
        bridge: TagBridge | None,
        snapshots: VectorSnapshots | None = None,
        snapshot_rows: int = SNAPSHOT_ROWS,
    ) -> None:
        self.uows = uows
        self.embedder = embedder
        self.bridge = bridge
        self.snapshots = snapshots
        self.snapshot_rows = snapshot_rows
        # Each text row carries the file's packed class scores, for the tag bridge, then the
        # mean and spread of its similarities to REFERENCE_QUERIES (domain/relevance.py).
        allocate = snapshots.allocate if snapshots is not None else np.zeros
        # Text rows are refined: near-duplicate descriptions sit closer together than int8
        # rounding tells apart (vector_index.py).
        self.texts = VectorIndex(
            TEXT_DIMENSIONS,
            payload_width=_PAYLOAD_WIDTH,
            quantized=True,
            refined=True,
            allocate=allocate,
        )
        self.images = VectorIndex(IMAGE_DIMENSIONS, quantized=True, allocate=allocate)
        self._seen_until: dict[tuple[str, bool], datetime] = {}
        #: Rows applied since the last snapshot, per (tenant, images); a key is present once
        #: this process has looked for the tenant's snapshot.
        self._unsaved: dict[tuple[str, bool], int] = {}
        self._saving: set[tuple[str, bool]] = set()
        self._writers: list[threading.Thread] = []
        self._references: np.ndarray[Any, Any] | None = None
        self._refreshing = anyio.Lock()
        self._bridge_ready = threading.Event()
        self._bridge_started = False

    async def ranked(self, tenant_id: str, text: str) -> list[str]:
        """The tenant's files relevant to `text` in meaning (above the relevance floor), best
        first."""
        # The changed rows are read while the query is embedded: neither needs the other.
        embedded, _ = await asyncio.gather(self.embedder.embed_query(text), self.refresh(tenant_id))
        query = _unit(np.asarray(embedded, dtype=np.float32))
        weights = self._bridge_weights(query)
        bonus = None if weights is None else partial(_bridge_bonus, weights)
        nearest = self.texts.nearest(tenant_id, query, SEMANTIC_CANDIDATES, bonus=bonus)
        return self._relevant(tenant_id, query, [file_id for file_id, _ in nearest], weights)

    def _relevant(
        self,
        tenant_id: str,
        query: np.ndarray[Any, Any],
        candidates: Sequence[str],
        weights: np.ndarray[Any, Any] | None,
    ) -> list[str]:
        if not candidates:
            return []
        rows = [self._text_row(tenant_id, file_id) for file_id in candidates]
        vectors = np.stack([vector for vector, _ in rows])
        payloads = np.stack([payload for _, payload in rows])
        bridge = np.zeros(len(candidates), np.float32)
        if weights is not None:
            bridge = packed_scores(weights, payloads[:, :_CLASSES_WIDTH])
        scores = relevance(vectors @ query, payloads[:, _MEAN], payloads[:, _SPREAD], bridge)
        return above_floor(candidates, scores)

    def _text_row(
        self, tenant_id: str, file_id: str
    ) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        row = self.texts.get_with_payload(tenant_id, file_id)
        assert row is not None  # a candidate nearest() just returned, nothing awaited since
        return row

    async def similar(self, tenant_id: str, file_id: str, limit: int) -> list[str] | None:
        """The files whose images look most like this one's; None when it has no features."""
        await self.refresh(tenant_id, images=True)
        vector = self.images.get(tenant_id, file_id)
        if vector is None:
            return None
        nearest = self.images.nearest(tenant_id, vector, limit, exclude={file_id})
        return [found for found, _ in nearest]

    async def refresh(self, tenant_id: str, *, images: bool = False) -> None:
        """Read the files changed since the last look: the first time, those since the
        tenant's snapshot, or all of them when it has none; their text rows, or with `images`
        their image features."""
        key = (tenant_id, images)
        async with self._refreshing:
            if key not in self._unsaved:
                await self._restore(tenant_id, images)
                self._unsaved[key] = 0
            since = self._seen_until.get(key)
            async with self.uows.read() as uow:
                rows = await uow.files.vectors_since(tenant_id, since, images=images)
            if images:
                self._apply_images(tenant_id, rows)
            else:
                if self._references is None and rows:
                    self._references = await self._reference_vectors()
                self._apply_texts(tenant_id, rows)
            if rows:
                newest = max(row.updated_at for row in rows)
                self._seen_until[key] = max(newest, since) if since else newest
            self._unsaved[key] += len(rows)
            if self._unsaved[key] >= self.snapshot_rows and key not in self._saving:
                self._save(tenant_id, images)

    async def _restore(self, tenant_id: str, images: bool) -> None:
        """Adopt the tenant's snapshot, if it has one that fits, less the files gone from the
        catalog since it was made (purged ones are not among the changed rows)."""
        if self.snapshots is None:
            return
        kind, index = self._kind(images)
        snapshot = await anyio.to_thread.run_sync(
            self.snapshots.load, tenant_id, kind, self._snapshot_fingerprint(images)
        )
        if snapshot is None:
            return
        try:
            index.adopt(tenant_id, _tenant_rows(snapshot))
        except (KeyError, ValueError):
            log.warning("the %s vector snapshot of %s does not fit; read in full", kind, tenant_id)
            return
        async with self.uows.read() as uow:
            live = set(await uow.files.live_ids(tenant_id))
        index.remove(tenant_id, [file_id for file_id in snapshot.ids if file_id not in live])
        if not images and self._references is None:
            self._references = await self._reference_vectors()
        self._seen_until[tenant_id, images] = snapshot.seen_until

    def _save(self, tenant_id: str, images: bool) -> None:
        """Keep the tenant's rows in a new snapshot, written by a thread of its own so that no
        query waits for it; the rows are copied here, between two changes of the index."""
        key = (tenant_id, images)
        kind, index = self._kind(images)
        rows = index.rows(tenant_id)
        if self.snapshots is None or rows is None or key not in self._seen_until:
            return
        self._saving.add(key)
        self._unsaved[key] = 0
        snapshot = _snapshot(rows, self._seen_until[key])
        fingerprint = self._snapshot_fingerprint(images)

        def write(snapshots: VectorSnapshots) -> None:
            try:
                snapshots.save(tenant_id, kind, fingerprint, snapshot)
            except OSError:  # the catalog stays the source: the next start reads more of it
                log.exception("the %s vector snapshot of %s was not saved", kind, tenant_id)
            finally:
                self._saving.discard(key)

        writer = threading.Thread(
            target=write, args=(self.snapshots,), name="scopix-vector-snapshot", daemon=True
        )
        self._writers.append(writer)
        writer.start()

    def wait_for_snapshots(self, timeout: float | None = None) -> None:
        """Block until the snapshots being written are (for benches and tests)."""
        for writer in self._writers:
            writer.join(timeout)
        self._writers = [w for w in self._writers if w.is_alive()]

    def _kind(self, images: bool) -> tuple[str, VectorIndex]:
        return ("image", self.images) if images else ("text", self.texts)

    def _snapshot_fingerprint(self, images: bool) -> str:
        """What a snapshot's rows depend on beyond the catalog: text rows carry similarities
        to the reference queries as this embedder embeds them."""
        parts = [f"scopix-vectors/{_SNAPSHOT_REVISION}", "image" if images else "text"]
        if not images:
            queries = hashlib.sha256("\n".join(REFERENCE_QUERIES).encode()).hexdigest()[:16]
            parts += [self.embedder.fingerprint, queries, str(CLASS_SLOTS)]
        return ":".join(parts)

    def forget(self, tenant_id: str, file_ids: Sequence[str]) -> None:
        """Drop purged files: their rows are gone, so no later look at changes reports them."""
        self.texts.remove(tenant_id, file_ids)
        self.images.remove(tenant_id, file_ids)

    async def _reference_vectors(self) -> np.ndarray[Any, Any]:
        """REFERENCE_QUERIES embedded: shipped with the models for the on-device embedder, else
        embedded once (some 30 short queries, 1-2 s in all on two cores)."""
        shipped = shipped_query_vectors(self.embedder.fingerprint, REFERENCE_QUERIES)
        if shipped is not None:
            return np.stack([_unit(v) for v in shipped])
        vectors = [await self.embedder.embed_query(text) for text in REFERENCE_QUERIES]
        return np.stack([_unit(np.asarray(v, dtype=np.float32)) for v in vectors])

    def _apply_texts(self, tenant_id: str, rows: Sequence[Any]) -> None:
        gone = [r.id for r in rows if r.deleted_at is not None or r.embedding is None]
        self.texts.remove(tenant_id, gone)
        live = [r for r in rows if r.deleted_at is None and r.embedding is not None]
        if not live:
            return
        assert self._references is not None
        embeddings = _vectors(r.embedding for r in live)
        # The profile is taken from the float32 vectors, before the index quantizes them.
        units = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
        means, spreads = similarity_profile(self._references @ units.T)
        payloads = np.column_stack(
            [pack_class_scores([r.class_scores for r in live]), means, spreads]
        )
        self.texts.put(tenant_id, [r.id for r in live], embeddings, payloads)

    def _apply_images(self, tenant_id: str, rows: Sequence[Any]) -> None:
        # A file deleted, or described again without image features, must not keep old ones.
        live = [r for r in rows if r.deleted_at is None and r.image_features]
        kept = {r.id for r in live}
        self.images.remove(tenant_id, [r.id for r in rows if r.id not in kept])
        if live:
            features = _vectors(r.image_features for r in live)
            self.images.put(tenant_id, [r.id for r in live], features)

    def _bridge_weights(self, query: np.ndarray[Any, Any]) -> np.ndarray[Any, Any] | None:
        """How strongly the query names each ImageNet class; None until the bridge is ready."""
        if self.bridge is None or not self._bridge_loaded():
            return None
        return self.bridge.weights(query)

    def _bridge_loaded(self) -> bool:
        """Whether the tag bridge is ready; the first ask starts loading it in the background
        (embedding 1000 class names takes some 10 s), and queries until then rank by text
        similarity alone rather than wait."""
        if not self._bridge_started and self.bridge is not None:
            self._bridge_started = True
            threading.Thread(target=self._load_bridge, name="scopix-tagbridge", daemon=True).start()
        return self._bridge_ready.is_set()

    def _load_bridge(self) -> None:
        assert self.bridge is not None
        try:
            self.bridge.load()
        except Exception:  # the bridge only refines a ranking: search goes on without it
            log.exception("the ImageNet tag bridge did not load; semantic search goes without it")
            return
        self._bridge_ready.set()

    def wait_for_bridge(self, timeout: float | None = None) -> bool:
        """Block until the tag bridge is ready (for warm-ups and tests); whether it is."""
        self._bridge_loaded()
        return self._bridge_ready.wait(timeout)


def _snapshot(rows: TenantRows, seen_until: datetime) -> Snapshot:
    arrays = {"matrix": rows.matrix, "scale": rows.scale, "payload": rows.payload}
    if rows.centre is not None:
        arrays["centre"] = rows.centre
    if rows.fine is not None:
        arrays["fine"] = rows.fine
    return Snapshot(rows.ids, arrays, seen_until)


def _tenant_rows(snapshot: Snapshot) -> TenantRows:
    arrays = snapshot.arrays
    return TenantRows(
        snapshot.ids,
        arrays["matrix"],
        arrays["scale"],
        arrays.get("centre"),
        arrays["payload"],
        arrays.get("fine"),
    )


def _unit(vector: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def _bridge_bonus(weights: np.ndarray[Any, Any], payloads: np.ndarray[Any, Any]) -> Any:
    return BRIDGE_WEIGHT * packed_scores(weights, payloads[:, :_CLASSES_WIDTH])


def _vectors(blobs: Any) -> np.ndarray[Any, Any]:
    return np.stack([np.frombuffer(blob, dtype="<f4") for blob in blobs])
