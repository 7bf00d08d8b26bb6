"""The services one server process uses, built once from settings (the composition root)."""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import anyio

from scopix.server.catalog.db import Database, connect
from scopix.server.catalog.uow import UnitOfWorkFactory
from scopix.server.catalog.vector_snapshots import VectorSnapshots
from scopix.server.datadir import signing_secret
from scopix.server.domain.breaker import CircuitBreaker
from scopix.server.domain.events import RETRY_DELAYS
from scopix.server.domain.failures import RetryPolicy
from scopix.server.domain.limits import DocumentLimits, ImageLimits, VideoLimits
from scopix.server.imaging.checked import ImageDecoders
from scopix.server.isolation import CrashHook, IsolatedPool, IsolationLimits
from scopix.server.jobs.celery_app import CeleryJobQueue, make_celery
from scopix.server.jobs.handler import JobHandler
from scopix.server.jobs.inline import InlineWorkerPool
from scopix.server.jobs.queue import JobQueue
from scopix.server.jobs.runner import JobRunner, LeaseSettings
from scopix.server.jobs.sweeper import JobSweeper
from scopix.server.jobs.webhooks import DeliverySettings, WebhookDeliverer, WebhookSender
from scopix.server.media import MediaHandlers
from scopix.server.media.document import DocumentHandler
from scopix.server.media.image import ImageHandler
from scopix.server.media.link import LinkHandler
from scopix.server.media.links.fetch import FetchRules
from scopix.server.media.video import VideoHandler
from scopix.server.services.batches import BatchService
from scopix.server.services.crawl import CrawlHandler, CrawlSettings
from scopix.server.services.custom_extraction import (
    ExtractionService,
    FieldsHandler,
    SchemaService,
)
from scopix.server.services.describe import DescribeHandler, DescribeService
from scopix.server.services.direct_uploads import DirectUploadService, DirectUploadSettings
from scopix.server.services.documents import DocumentService
from scopix.server.services.events import EventService
from scopix.server.services.extract import ChunkSettings, ExtractHandler
from scopix.server.services.files import FileService
from scopix.server.services.folders import FolderService
from scopix.server.services.idempotency import IdempotencyService
from scopix.server.services.image_links import ImageLinks
from scopix.server.services.ingest import Ingestor, JobSettings, StorageRoom
from scopix.server.services.keys import KeyService
from scopix.server.services.links import LinkService
from scopix.server.services.maintenance import Maintenance
from scopix.server.services.projects import ProjectService
from scopix.server.services.purge import Purger
from scopix.server.services.quota import QuotaService
from scopix.server.services.ratelimit import RateLimiter
from scopix.server.services.scenes import SceneHandler
from scopix.server.services.search import SemanticIndex
from scopix.server.services.storage_quota import DiskGuard, StorageQuota
from scopix.server.services.upload_slots import UploadSlots, build_limits
from scopix.server.services.variants import VariantsHandler
from scopix.server.services.videos import VideoService
from scopix.server.services.webhooks import WebhookService
from scopix.server.settings import Settings
from scopix.server.storage.base import BlobStore
from scopix.server.storage.local import LocalBlobStore
from scopix.server.vision.base import Analyzer, TextEmbedder
from scopix.server.vision.fields.base import FieldExtractor
from scopix.server.vision.guarded import GuardedAnalyzer

if TYPE_CHECKING:
    from scopix.server.vision.ondevice import E5Embedder
    from scopix.server.vision.pipeline import DescriptionPipeline


log = logging.getLogger("scopix.services")


@dataclass
class Services:
    """Everything the API calls into."""

    settings: Settings
    database: Database
    store: BlobStore
    keys: KeyService
    files: FileService
    image_links: ImageLinks
    ingest: Ingestor
    batches: BatchService
    direct_uploads: DirectUploadService
    quota: QuotaService
    rate_limiter: RateLimiter
    upload_slots: UploadSlots
    maintenance: Maintenance
    describe: DescribeService
    documents: DocumentService
    videos: VideoService
    links: LinkService
    projects: ProjectService
    folders: FolderService
    extraction_schemas: SchemaService
    extractions: ExtractionService
    events: EventService
    webhooks: WebhookService
    deliverer: WebhookDeliverer
    idempotency: IdempotencyService
    pipeline: DescriptionPipeline
    #: what each media kind does: the only place that knows
    media: MediaHandlers
    #: the decoder children every handler's decodes run in
    decoder_pool: IsolatedPool
    workers: InlineWorkerPool
    #: where new jobs are announced: `workers` itself, or Celery in scale-out
    queue: JobQueue
    sweeper: JobSweeper

    async def close(self) -> None:
        """Release connections and stop the decoder children (every decode shares them)."""
        await self.decoder_pool.aclose()
        if isinstance(self.queue, CeleryJobQueue):
            self.queue.close()
        for analyzer in self.pipeline.analyzers:
            inner = getattr(analyzer, "inner", analyzer)
            if hasattr(inner, "aclose"):
                await inner.aclose()
        await self.rate_limiter.aclose()
        await self.upload_slots.aclose()
        await self.database.dispose()

    async def warm_up(self) -> None:
        """Load the on-device models now, off the event loop, so that the first description
        does not wait for them. A model that fails to load is logged here and fails its jobs
        as it would have."""
        try:
            await anyio.to_thread.run_sync(
                self.pipeline.load, analyses_at_once(self.settings), abandon_on_cancel=True
            )
        except Exception:
            log.exception("the models could not load at start")


def build_services(settings: Settings) -> Services:
    """Wire the adapters named by `settings` into the services."""
    database = connect(settings.resolved_database_url)
    uows = UnitOfWorkFactory(database)
    store = build_store(settings)
    decoders = build_decoders(settings)
    inference = anyio.CapacityLimiter(settings.inference_threads)
    embedder = _embedder(settings, inference)
    pipeline = build_pipeline(settings, inference, embedder)
    media = build_media(settings, decoders, inference)
    chunking = ChunkSettings(settings.document_chunk_words, settings.document_chunk_overlap_words)
    handlers: dict[str, JobHandler[Any]] = {
        VariantsHandler.kind: VariantsHandler(uows, store, media),
        DescribeHandler.kind: DescribeHandler(uows, store, pipeline, media),
        ExtractHandler.kind: ExtractHandler(uows, store, media, embedder, chunking),
        SceneHandler.kind: SceneHandler(uows, store, media),
        FieldsHandler.kind: FieldsHandler(
            uows, store, media, field_extractor(pipeline), pipeline.max_side
        ),
    }
    workers = _worker_pool(settings, uows, handlers)
    queue = _queue(settings, workers)
    sender = webhook_sender(settings)
    ingest = Ingestor(
        uows,
        store,
        media,
        JobSettings(queue, settings.describe_max_attempts),
        storage_room(settings, uows, store),
    )
    crawl = CrawlHandler(
        uows,
        ingest,
        media,
        decoders.pool,
        crawl_settings(settings, decoders.limits),
        settings.describe_max_attempts,
    )
    # Ingest needs the queue, the queue its handlers: the crawl joins the mapping the runner
    # and the sweeper hold once ingest exists.
    handlers[crawl.kind] = crawl
    idempotency = IdempotencyService(uows, timedelta(seconds=settings.idempotency_lease_seconds))
    secret = signing_secret(settings)
    direct_uploads = DirectUploadService(
        uows,
        store,
        ingest,
        DirectUploadSettings(
            settings.direct_upload_url_seconds, settings.direct_upload_expiry_seconds, secret
        ),
    )
    links = LinkService(uows, ingest, queue, allow_private=settings.links_allow_private)
    files = FileService(uows, _semantic_index(settings, uows, embedder))
    rate_limiter, upload_slots = build_limits(settings)
    return Services(
        settings=settings,
        database=database,
        store=store,
        keys=KeyService(uows),
        files=files,
        image_links=ImageLinks(files, secret),
        ingest=ingest,
        batches=BatchService(uows, ingest),
        direct_uploads=direct_uploads,
        quota=QuotaService(uows, ingest.room.quota),
        rate_limiter=rate_limiter,
        upload_slots=upload_slots,
        maintenance=Maintenance(
            uows,
            store,
            settings.orphan_grace_seconds,
            idempotency,
            direct_uploads,
            Purger(uows, store, files.semantic.forget if files.semantic else None),
            timedelta(days=settings.purge_after_days),
            links,
            _recrawl_after(settings),
            ingest.room.quota,
        ),
        describe=DescribeService(uows, queue, settings.describe_max_attempts),
        documents=DocumentService(uows, store, media, embedder),
        videos=VideoService(uows),
        links=links,
        projects=ProjectService(uows),
        folders=FolderService(uows),
        extraction_schemas=SchemaService(uows),
        extractions=ExtractionService(uows, queue),
        events=EventService(uows, poll_s=settings.events_poll_seconds),
        webhooks=WebhookService(uows, sender),
        deliverer=WebhookDeliverer(uows, sender, delivery_settings(settings)),
        idempotency=idempotency,
        pipeline=pipeline,
        media=media,
        decoder_pool=decoders.pool,
        workers=workers,
        queue=queue,
        sweeper=JobSweeper(uows, handlers, timedelta(seconds=settings.job_redispatch_seconds)),
    )


def webhook_sender(settings: Settings) -> WebhookSender:
    """Deliveries go out as links' pages are fetched: to checked addresses only (unless
    `links_allow_private`), within `webhook_timeout_seconds`."""
    rules = FetchRules(
        allow_private=settings.links_allow_private,
        deadline_seconds=settings.webhook_timeout_seconds,
        user_agent=settings.links_user_agent,
    )
    return WebhookSender(rules)


def delivery_settings(settings: Settings) -> DeliverySettings:
    waits = settings.webhook_retry_seconds
    return DeliverySettings(
        retry_delays=RETRY_DELAYS if waits is None else [timedelta(seconds=s) for s in waits],
        lease=timedelta(seconds=settings.webhook_lease_seconds),
        poll_s=settings.webhook_poll_seconds,
    )


def crawl_settings(settings: Settings, limits: IsolationLimits) -> CrawlSettings:
    """How links' pages are fetched (the `links_*` settings), in children under `limits`."""
    rules = FetchRules(
        allow_private=settings.links_allow_private,
        max_body_bytes=settings.links_max_body_bytes,
        deadline_seconds=settings.links_deadline_seconds,
        max_redirects=settings.links_max_redirects,
        user_agent=settings.links_user_agent,
    )
    return CrawlSettings(rules, settings.links_max_image_bytes, limits)


def _recrawl_after(settings: Settings) -> timedelta | None:
    """How long ago a link's last crawl makes it due again; None when recrawls are off."""
    if settings.links_recrawl_hours <= 0:
        return None
    return timedelta(hours=settings.links_recrawl_hours)


def build_store(settings: Settings) -> BlobStore:
    """Local disk by default; any S3 API when `storage_url` names one."""
    if not settings.storage_url:
        return LocalBlobStore(settings.resolved_storage_dir)
    from scopix.server.storage.s3 import S3BlobStore, S3Location

    staging = settings.data_dir / "staging"
    staging.mkdir(parents=True, exist_ok=True)
    return S3BlobStore(S3Location.parse(settings.storage_url), staging)


def storage_room(settings: Settings, uows: UnitOfWorkFactory, store: BlobStore) -> StorageRoom:
    """Tenants' storage quotas, and the disk uploads are staged on (where local blobs live)."""
    staging_dir = store.new_staging_path().parent
    return StorageRoom(
        StorageQuota(uows, settings.storage_quota_bytes),
        DiskGuard(staging_dir, settings.min_free_disk_bytes),
    )


def _embedder(settings: Settings, inference: anyio.CapacityLimiter) -> E5Embedder | None:
    """The on-device text embedder: descriptions and search queries share it."""
    if not settings.ondevice:
        return None
    from scopix.server.vision.ondevice import E5Embedder

    return E5Embedder(inference)


def _semantic_index(
    settings: Settings, uows: UnitOfWorkFactory, embedder: E5Embedder | None
) -> SemanticIndex | None:
    if embedder is None:
        return None
    from scopix.server.vision.tagbridge import TagBridge

    cache = settings.data_dir / "cache"
    return SemanticIndex(
        uows, embedder, TagBridge(embedder, cache), VectorSnapshots(cache / "vectors")
    )


def build_decoders(settings: Settings) -> ImageDecoders:
    """The pool of decoder children every decode of untrusted bytes goes through, its limits,
    and the header limits checked at each decode."""
    hook = None
    if settings.test_decoder_crash_marker:
        stages = frozenset(s.strip() for s in settings.test_decoder_crash_stages.split(","))
        hook = CrashHook(settings.test_decoder_crash_marker.encode(), stages)
    pool = IsolatedPool(
        settings.image_workers,
        settings.decode_memory_budget_bytes,
        crash_hook=hook,
        isolated=not settings.decode_in_process,
    )
    limits = IsolationLimits(
        address_space_bytes=settings.decode_address_space_bytes,
        cpu_seconds=settings.decode_cpu_seconds,
        wall_seconds=settings.decode_wall_seconds,
        scratch_bytes=settings.decode_scratch_bytes,
    )
    image = ImageLimits(
        settings.max_image_pixels, settings.max_image_side, settings.max_interlaced_pixels
    )
    return ImageDecoders(pool, limits, image)


def build_media(
    settings: Settings, decoders: ImageDecoders, inference: anyio.CapacityLimiter
) -> MediaHandlers:
    """One handler per media kind the server accepts; every decode shares one pool."""
    reader = None
    if settings.ondevice:  # scanned pages are read by the OCR the analyzers use
        from scopix.server.vision.ondevice.ocr_router import OcrRouter

        reader = OcrRouter(threads=threads_per_run(settings))
    limits = DocumentLimits(
        max_pages=settings.document_max_pages,
        max_extract_bytes=settings.document_max_extract_bytes,
        docx_max_unpacked_bytes=settings.docx_max_unpacked_bytes,
        docx_max_members=settings.docx_max_members,
        ocr_dpi=settings.document_ocr_dpi,
    )
    documents = DocumentHandler(decoders.pool, decoders.limits, limits, reader, inference)
    videos = VideoHandler(decoders.pool, decoders.limits, video_limits(settings))
    links = LinkHandler(decoders, limits)
    return MediaHandlers([ImageHandler(decoders), documents, videos, links])


def video_limits(settings: Settings) -> VideoLimits:
    """The largest video analysed and how it is cut into scenes (the `video_*` settings)."""
    return VideoLimits(
        max_duration_seconds=settings.video_max_duration_seconds,
        max_side=settings.video_max_side,
        max_bytes=settings.video_max_bytes,
        scene_min_seconds=settings.video_scene_min_seconds,
        sample_fps=settings.video_scene_sample_fps,
        max_scenes=settings.video_max_scenes,
        max_described_scenes=settings.video_max_described_scenes,
    )


def build_pipeline(
    settings: Settings,
    inference: anyio.CapacityLimiter,
    embedder: TextEmbedder | None,
) -> DescriptionPipeline:
    """The analyzers the settings name, best first: a VLM's words before the on-device caption."""
    from scopix.server.vision.pipeline import DescriptionPipeline

    analyzers: list[Analyzer] = []
    if settings.vlm_base_url and settings.vlm_model:
        from scopix.server.vision.remote.openai_compat import OpenAICompatibleAnalyzer

        key = settings.vlm_api_key.get_secret_value() if settings.vlm_api_key else None
        remote = OpenAICompatibleAnalyzer(
            settings.vlm_base_url, settings.vlm_model, key, settings.vlm_timeout_seconds
        )
        breaker = CircuitBreaker(
            settings.vlm_breaker_failures,
            settings.vlm_breaker_reset_seconds,
            max(settings.vlm_breaker_reset_seconds, 300.0),
        )
        analyzers.append(GuardedAnalyzer(remote, breaker))
    if settings.ondevice:
        from scopix.server.vision.ondevice import OnDeviceAnalyzer

        analyzers.append(OnDeviceAnalyzer(inference, threads=threads_per_run(settings)))
    if not analyzers:
        raise ValueError("no analyzer is configured: enable SCOPIX_ONDEVICE or set SCOPIX_VLM_*")
    return DescriptionPipeline(analyzers, embedder)


def field_extractor(pipeline: DescriptionPipeline) -> FieldExtractor:
    """The VLM the pipeline asks, when there is one: it reads what OCR cannot tie to a label;
    else the on-device extractor, which fills only what the OCR text supports."""
    from scopix.server.vision.fields.ondevice import OnDeviceFieldExtractor
    from scopix.server.vision.fields.remote import VLMFieldExtractor
    from scopix.server.vision.remote.openai_compat import OpenAICompatibleAnalyzer

    for analyzer in pipeline.analyzers:
        inner = getattr(analyzer, "inner", analyzer)
        if isinstance(inner, OpenAICompatibleAnalyzer):
            return VLMFieldExtractor(inner)
    return OnDeviceFieldExtractor()


def warms_models(settings: Settings) -> bool:
    """Whether the models load at start: as `warm_models` says, else where jobs run here."""
    if settings.warm_models is not None:
        return settings.warm_models
    return settings.ondevice and settings.workers > 0


def analyses_at_once(settings: Settings) -> int:
    """How many analyses this process runs at once: one per job worker, within the inference
    limiter (a process with no workers analyses only what its API asks, up to the limiter)."""
    return min(settings.inference_threads, settings.workers or settings.inference_threads)


def threads_per_run(settings: Settings, cores: int | None = None) -> int:
    """Native threads for each model run (onnxruntime's intra-op, OpenCV's): the cores shared
    by the analyses that run at once, so that together they neither oversubscribe the cores
    nor leave some idle (one worker on four cores)."""
    return max(1, (cores or os.cpu_count() or 1) // analyses_at_once(settings))


def _worker_pool(
    settings: Settings, uows: UnitOfWorkFactory, handlers: dict[str, JobHandler[Any]]
) -> InlineWorkerPool:
    runner = JobRunner(
        uows,
        handlers,
        lease=LeaseSettings(settings.job_lease_seconds),
        retry=RetryPolicy(
            max_attempts=settings.describe_max_attempts,
            base_delay_s=settings.retry_base_seconds,
            max_delay_s=settings.retry_max_seconds,
        ),
        owner=f"{socket.gethostname()}:{os.getpid()}",
    )
    return InlineWorkerPool(runner, workers=settings.workers, poll_s=settings.job_poll_seconds)


def _queue(settings: Settings, workers: InlineWorkerPool) -> JobQueue:
    """Celery when a broker is named (scale-out), else this process's own worker pool."""
    if not settings.queue_url:
        return workers
    return CeleryJobQueue(make_celery(settings.queue_url))
