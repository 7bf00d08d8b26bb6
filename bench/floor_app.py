"""The least an upload endpoint can do, as one Starlette app: the floor bench/uploads.py measures
`scopix serve` against, under the same uvicorn settings.

`POST /upload` parses the multipart body with python-multipart (Starlette's form parser), hashes
the file with SHA-256, writes it with fsync, renders a 64 px thumbnail with pyvips and inserts
one row into SQLite (WAL, synchronous=NORMAL, as the catalog runs it); 201 with the id.

    .venv/bin/python bench/floor_app.py --port 8123 --data /tmp/floor
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sqlite3
import threading
import uuid
from pathlib import Path

import pyvips
import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from scopix.server.http_protocol import bounded_http_protocol
from scopix.server.log_redaction import uvicorn_log_config
from scopix.server.settings import Settings

_local = threading.local()


def _db(data: Path) -> sqlite3.Connection:
    """One connection per thread, as a pool would hand out."""
    conn: sqlite3.Connection | None = getattr(_local, "conn", None)
    if conn is None:
        conn = sqlite3.connect(data / "floor.db")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        _local.conn = conn
    return conn


def _store(data: Path, filename: str, body: bytes) -> str:
    sha256 = hashlib.sha256(body).hexdigest()
    file_id = uuid.uuid4().hex
    path = data / "blobs" / sha256
    with path.open("wb") as handle:
        handle.write(body)
        handle.flush()
        os.fsync(handle.fileno())
    thumb = pyvips.Image.thumbnail_buffer(body, 64).jpegsave_buffer()
    conn = _db(data)
    with conn:
        conn.execute(
            "INSERT INTO files (id, sha256, filename, size, thumb) VALUES (?, ?, ?, ?, ?)",
            (file_id, sha256, filename, len(body), thumb),
        )
    return file_id


def make_app(data: Path) -> Starlette:
    (data / "blobs").mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(data / "floor.db") as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS files "
            "(id TEXT PRIMARY KEY, sha256 TEXT, filename TEXT, size INTEGER, thumb BLOB)"
        )

    async def upload(request: Request) -> JSONResponse:
        form = await request.form()
        part = form["file"]
        assert isinstance(part, UploadFile)
        body = await part.read()
        file_id = await run_in_threadpool(_store, data, part.filename or "upload", body)
        await form.close()
        return JSONResponse({"image_id": file_id}, status_code=201)

    return Starlette(routes=[Route("/upload", upload, methods=["POST"])])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data", type=Path, required=True)
    args = parser.parse_args()
    settings = Settings(data_dir=args.data)
    # The same uvicorn settings as `scopix serve` (cli/server_commands.py).
    uvicorn.run(
        make_app(args.data),
        host="127.0.0.1",
        port=args.port,
        log_level=settings.log_level.lower(),
        log_config=uvicorn_log_config(),
        http=bounded_http_protocol(
            settings.header_timeout_seconds, settings.body_idle_timeout_seconds
        ),
        limit_concurrency=settings.max_connections + 1,
    )


if __name__ == "__main__":
    main()
