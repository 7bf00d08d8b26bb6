"""All server configuration, read once from `SCOPIX_*` environment variables."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from scopix import __version__

MiB = 1024 * 1024


class Settings(BaseSettings):
    """Server settings; every field can be set as `SCOPIX_<NAME>`."""

    model_config = SettingsConfigDict(env_prefix="SCOPIX_", env_nested_delimiter="__")

    data_dir: Path = Path("scopix-data")
    host: str = "127.0.0.1"
    port: int = 8080
    database_url: str | None = Field(
        default=None, description="SQLAlchemy async URL; SQLite in data_dir when unset"
    )
    storage_dir: Path | None = Field(default=None, description="blob root; data_dir/blobs if unset")
    storage_url: str | None = Field(
        default=None,
        description="s3://bucket/prefix?endpoint=...&region=... (any S3 API); local disk if unset",
    )
    queue_url: str | None = Field(
        default=None,
        description="redis://host:6379/0: scale-out, jobs go to Celery workers (`scopix worker`) "
        "and rate limits are shared by every replica; in-process workers and counts if unset",
    )
    signing_secret: SecretStr | None = Field(
        default=None,
        description="signs local part URLs and the web page's image links; kept in "
        "data_dir/signing.key if unset (set it to "
        "the same value on every replica)",
    )
    direct_upload_url_seconds: int = Field(
        default=3600,
        ge=60,
        le=604_800,
        description="how long a signed part URL stays valid (S3 allows 7 days at most)",
    )
    direct_upload_expiry_seconds: int = Field(
        default=86_400, ge=60, description="an unfinished direct upload is swept after this"
    )
    max_upload_bytes: int = Field(default=100 * MiB, description="per file on streaming routes")
    max_batch_bytes: int = Field(default=2048 * MiB, description="per batch request")
    max_image_pixels: int = 100_000_000
    max_image_side: int = 16_384
    image_workers: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=1,
        description="decoder child processes: image decodes at once, within the memory budget",
    )

    # Documents (PDF, DOCX, TXT, MD): limits checked before and while their text is extracted
    document_max_extract_bytes: int = Field(
        default=500 * MiB,
        ge=1,
        description="largest document whose text is extracted; larger ones are stored and "
        "listed with text_extraction_status=failed",
    )
    document_max_pages: int = Field(default=2000, ge=1, description="pages of one document")
    docx_max_unpacked_bytes: int = Field(
        default=256 * MiB, ge=1, description="bytes a DOCX may inflate to, all members together"
    )
    docx_max_members: int = Field(default=10_000, ge=1, description="members of a DOCX archive")
    document_ocr_dpi: int = Field(
        default=300, ge=72, le=600, description="resolution a scanned page is rendered at for OCR"
    )
    document_chunk_words: int = Field(
        default=250, ge=50, le=2000, description="target words of one search chunk"
    )
    document_chunk_overlap_words: int = Field(
        default=40, ge=0, le=500, description="words a chunk repeats from the one before"
    )
    # Videos (MP4, MOV, M4V, WebM, AVI, MKV): limits checked from the container at upload and
    # again when the scenes are cut, and how the scenes are found
    video_max_duration_seconds: float = Field(
        default=600.0, ge=1, le=7200, description="longest video accepted, in seconds"
    )
    video_max_side: int = Field(
        default=8192, ge=16, description="largest frame width or height of a video, in pixels"
    )
    video_max_bytes: int = Field(
        default=2048 * MiB,
        ge=1,
        description="largest video probed and analysed; larger ones are stored and listed with "
        "video_analysis_status=failed",
    )
    video_scene_min_seconds: float = Field(
        default=1.0, gt=0, le=60, description="shortest scene: cuts closer together are merged"
    )
    video_scene_sample_fps: float = Field(
        default=4.0, gt=0, le=30, description="frames a second compared to find scene cuts"
    )
    video_max_scenes: int = Field(default=200, ge=1, description="scenes kept of one video")
    video_max_described_scenes: int = Field(
        default=30, ge=1, description="scenes of one video described by the analyzers"
    )
    # Links: how a saved link's page is fetched (in the isolated workers, never the API)
    links_allow_private: bool = Field(
        default=False,
        description="let links reach loopback, private, link-local and other internal "
        "addresses (tests, intranets); off, such a URL is refused or its crawl fails",
    )
    links_max_body_bytes: int = Field(
        default=10 * MiB, ge=1, description="largest page body kept, after decompression"
    )
    links_deadline_seconds: float = Field(
        default=20.0, gt=0, le=600, description="one fetch's whole time, redirects included"
    )
    links_max_redirects: int = Field(default=5, ge=0, le=20, description="redirects followed")
    links_max_image_bytes: int = Field(
        default=10 * MiB, ge=1, description="largest preview image (og:image) fetched for a page"
    )
    links_recrawl_hours: float = Field(
        default=0,
        ge=0,
        description="links crawled longer ago than this are fetched again by the maintenance "
        "sweep; 0 (the default) never recrawls on its own",
    )
    links_user_agent: str = Field(
        default=f"ScopixBot/{__version__} (+self-hosted)",
        min_length=1,
        max_length=200,
        description="the User-Agent a page is fetched with",
    )
    # Decoder isolation: every decode of untrusted bytes runs in a child with limits
    max_interlaced_pixels: int = Field(
        default=50_000_000,
        ge=1,
        description="pixel cap of interlaced PNG and progressive JPEG, which decode whole "
        "instead of streaming: 50 MP is a 45 MP camera's progressive JPEG, and at worst "
        "(16-bit RGBA) 400 MB, a fifth of a child's default address space",
    )
    decode_memory_budget_bytes: int = Field(
        default=2048 * MiB,
        ge=64 * MiB,
        description="memory concurrent decodes share; each reserves width x height x bands x "
        "sample bytes from its header (16 MiB at least) and waits until that fits",
    )
    decode_address_space_bytes: int = Field(
        default=2048 * MiB,
        ge=256 * MiB,
        description="RLIMIT_AS of a decoder child (its interpreter and libraries take ~550 MB)",
    )
    decode_cpu_seconds: int = Field(default=120, ge=1, description="CPU time of one decode")
    decode_wall_seconds: float = Field(default=120.0, gt=0, description="wall clock of a decode")
    decode_scratch_bytes: int = Field(
        default=1024 * MiB, ge=MiB, description="largest file a decode may write in its scratch"
    )
    decode_in_process: bool = Field(
        default=False,
        description="FOR BENCHMARKS ONLY: decode in threads of the server, with no isolation "
        "and no limit but the memory budget (bench/ingest.py measures what isolation costs)",
    )
    test_decoder_crash_marker: str | None = Field(
        default=None,
        description="TEST ONLY, never set in service: a decoder child asked to decode a file "
        "containing these bytes kills itself with SIGSEGV, as a decoder bug would",
    )
    test_decoder_crash_stages: str = Field(
        default="upload,variants,analysis",
        description="TEST ONLY: the decodes the crash marker applies to, comma-separated",
    )
    orphan_grace_seconds: int = Field(default=3600, description="age before a stray blob is swept")
    log_level: str = "info"

    # Purge
    purge_after_days: int = Field(
        default=30,
        ge=1,
        description="a deleted file is purged for good this many days after its deletion, "
        "with the stored bytes no other file names",
    )

    # Storage quotas and the free-disk guard
    storage_quota_bytes: dict[str, int | None] = Field(
        default_factory=dict,
        description="per tier, bytes of originals a tenant may keep (unlimited: no limit), "
        "e.g. SCOPIX_STORAGE_QUOTA_BYTES__FREE=2147483648; the tier's own quota if unset",
    )
    min_free_disk_bytes: int | None = Field(
        default=None,
        ge=0,
        description="uploads are refused (507) when they would leave less free on the data "
        "disk; max(1 GiB, 5 %) of the disk if unset",
    )

    # Slow clients (`scopix serve`)
    header_timeout_seconds: float = Field(
        default=10.0, gt=0, description="a request's headers must be whole within this"
    )
    body_idle_timeout_seconds: float = Field(
        default=60.0, gt=0, description="a body that sends nothing for this long is cut"
    )
    max_connections: int = Field(
        default=1000, ge=1, description="connections served at once; one more is answered 503"
    )

    # Jobs
    workers: int = Field(default=2, ge=0, description="in-process job workers (0: none here)")
    inference_threads: int = Field(
        default_factory=lambda: os.cpu_count() or 1, ge=1, description="concurrent model runs"
    )
    job_lease_seconds: float = Field(default=60.0, gt=0, description="a claim without heartbeat")
    idempotency_lease_seconds: float = Field(
        default=30.0, gt=0, description="a keyed request's hold on its key without heartbeat"
    )
    job_poll_seconds: float = Field(default=1.0, gt=0, description="idle workers re-check jobs")
    job_redispatch_seconds: float = Field(
        default=60.0, gt=0, description="a due job's unanswered message is sent again after this"
    )
    # Events and webhooks
    events_poll_seconds: float = Field(
        default=0.25, gt=0, le=5, description="how often a waiting GET /events looks again"
    )
    webhook_retry_seconds: list[float] | None = Field(
        default=None,
        description="waits before each attempt after the first at one event (unset: 5 s, "
        "5 min, 30 min, 2 h, 5 h, 10 h, 10 h); the endpoint is disabled when all fail",
    )
    webhook_timeout_seconds: float = Field(
        default=10.0, gt=0, le=60, description="one delivery's whole time"
    )
    webhook_lease_seconds: float = Field(
        default=60.0, gt=0, description="a deliverer's hold on an endpoint while it delivers"
    )
    webhook_poll_seconds: float = Field(
        default=0.5, gt=0, description="how often deliverers look for events to deliver"
    )
    describe_max_attempts: int = Field(default=4, ge=1, description="attempts per description")
    retry_base_seconds: float = Field(default=2.0, ge=0, description="first retry's delay")
    retry_max_seconds: float = Field(default=300.0, ge=0, description="longest retry delay")

    # Vision
    ondevice: bool = Field(default=True, description="run the on-device OCR, tagger, captioner")
    warm_models: bool | None = Field(
        default=None,
        description="load the on-device models at start, not in the first description "
        "(unset: where this process runs jobs, i.e. workers > 0)",
    )
    vlm_base_url: str | None = Field(
        default=None, description="an OpenAI-compatible endpoint, e.g. http://localhost:11434/v1"
    )
    vlm_model: str | None = Field(default=None, description="the vision model to ask")
    vlm_api_key: SecretStr | None = None
    vlm_timeout_seconds: float = Field(default=60.0, gt=0)
    vlm_breaker_failures: int = Field(default=5, ge=1, description="failures in a row to trip")
    vlm_breaker_reset_seconds: float = Field(default=30.0, gt=0, description="first open period")

    # Keys and secrets
    @field_validator("signing_secret")
    @classmethod
    def _signing_secret_long_enough(cls, secret: SecretStr | None) -> SecretStr | None:
        from scopix.server.domain.signing import MIN_SECRET_BYTES

        if secret is not None and len(secret.get_secret_value().encode()) < MIN_SECRET_BYTES:
            raise ValueError(
                f"SCOPIX_SIGNING_SECRET must be at least {MIN_SECRET_BYTES} bytes "
                "(e.g. the output of `openssl rand -hex 32`), or unset to keep a generated one"
            )
        return secret

    @field_validator("storage_quota_bytes", mode="before")
    @classmethod
    def _unlimited_is_null(cls, quotas: object) -> object:
        # An environment variable cannot hold a JSON null: "unlimited" says no limit there.
        if not isinstance(quotas, dict):
            return quotas
        return {
            str(tier).lower(): None if str(limit).lower() in ("unlimited", "null") else limit
            for tier, limit in quotas.items()
        }

    @field_validator("storage_quota_bytes")
    @classmethod
    def _quotas_of_known_tiers(cls, quotas: dict[str, int | None]) -> dict[str, int | None]:
        from scopix.server.domain.tiers import TIERS

        if unknown := sorted(set(quotas) - set(TIERS)):
            raise ValueError(f"storage quota for unknown tiers {unknown}; tiers: {sorted(TIERS)}")
        if any(limit is not None and limit < 0 for limit in quotas.values()):
            raise ValueError("a storage quota is a number of bytes, 0 or more")
        return quotas

    @field_validator("queue_url")
    @classmethod
    def _redis_queue(cls, url: str | None) -> str | None:
        # The broker also holds the shared rate limits, which need Redis itself.
        if url and not url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("SCOPIX_QUEUE_URL must name a Redis server (redis://host:6379/0)")
        return url

    @model_validator(mode="after")
    def _vlm_named_whole(self) -> Settings:
        if bool(self.vlm_base_url) != bool(self.vlm_model):
            raise ValueError("set SCOPIX_VLM_BASE_URL and SCOPIX_VLM_MODEL together, or neither")
        if not self.ondevice and not self.vlm_base_url:
            raise ValueError("no analyzer: keep SCOPIX_ONDEVICE=true or set SCOPIX_VLM_*")
        return self

    @property
    def job_sweep_seconds(self) -> float:
        """How often expired leases and unsent messages are looked for: often enough that a
        retry is dispatched within seconds of falling due, and a lost lease well within one."""
        return min(self.job_lease_seconds / 2, 5.0)

    @property
    def resolved_database_url(self) -> str:
        """The catalog URL, defaulting to a SQLite file in the data folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'scopix.db').resolve()}"

    @property
    def resolved_storage_dir(self) -> Path:
        """Where the local blob store keeps its files."""
        return self.storage_dir or self.data_dir / "blobs"
