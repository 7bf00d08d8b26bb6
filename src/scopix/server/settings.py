"""All server configuration, read once from `SCOPIX_*` environment variables."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

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
    max_upload_bytes: int = Field(default=100 * MiB, description="per file on streaming routes")
    max_batch_bytes: int = Field(default=2048 * MiB, description="per batch request")
    max_image_pixels: int = 100_000_000
    max_image_side: int = 16_384
    image_workers: int = Field(
        default_factory=lambda: os.cpu_count() or 1, description="concurrent image decodes"
    )
    orphan_grace_seconds: int = Field(default=3600, description="age before a stray blob is swept")
    log_level: str = "info"

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
