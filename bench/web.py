"""What the web page's HTML costs over the API's JSON for the same data, in the same process.

One in-process app (SQLite, local disk, no HTTP socket: httpx's ASGI transport), one tenant
with `--files` small JPEGs whose variants are made, so every card carries a signed thumbnail
link. Then, in turns, so drift hurts both alike: a page of 24 as `GET /ui/gallery` (HTML cards,
one HMAC per card) against `GET /api/v2/files?limit=24` (JSON), and a file's detail view
`GET /ui/files/{id}` against `GET /api/v2/files/{id}`. Prints p50 and p99 of each and the HTML
over the JSON.

    .venv/bin/python bench/web.py [--files 200] [--requests 300]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import pyvips

from scopix.server.app import create_app
from scopix.server.services.container import Services
from scopix.server.settings import Settings
from scopix.server.web.forms import PAGE_SIZE

Pair = tuple[str, str]


def jpeg(n: int) -> bytes:
    xy = pyvips.Image.xyz(96 + n % 13, 64 + n % 11)
    image = ((xy[0] * 3 + xy[1] * 5 + n * 17) % 256).cast("uchar")
    rgb = image.bandjoin([image, (image + n) % 256]).copy(interpretation="srgb")
    return bytes(rgb.jpegsave_buffer())


async def fill(client: httpx.AsyncClient, services: Services, files: int) -> str:
    """Upload `files` JPEGs, make their variants; one file's id."""
    file_id = ""
    for n in range(files):
        response = await client.post(
            "/api/v2/files/upload",
            files={"file": (f"f{n}.jpg", jpeg(n))},
            data={"auto_describe": "false"},
        )
        response.raise_for_status()
        file_id = response.json()["image_id"]
    runner = services.workers.runner
    while (job := await runner.claim(None)) is not None:
        await runner.run(job)
    return file_id


async def timed(client: httpx.AsyncClient, path: str) -> float:
    started = time.perf_counter()
    response = await client.get(path)
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    return elapsed * 1000


def report(name: str, html: list[float], json: list[float]) -> None:
    def p(samples: list[float], q: int) -> float:
        return statistics.quantiles(samples, n=100)[q - 1]

    print(
        f"{name:8} HTML p50 {p(html, 50):6.2f} ms p99 {p(html, 99):6.2f} | "
        f"JSON p50 {p(json, 50):6.2f} ms p99 {p(json, 99):6.2f} | "
        f"HTML/JSON p50 {p(html, 50) / p(json, 50):.2f}x"
    )


async def run(files: int, requests: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=Path(folder), workers=0)
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            services: Services = app.state.services
            key = await services.keys.create_key("bench", tier="custom")
            transport = httpx.ASGITransport(app=app)
            headers = {"Authorization": f"Bearer {key.plaintext}"}
            async with httpx.AsyncClient(
                transport=transport, base_url="http://bench", headers=headers
            ) as client:
                file_id = await fill(client, services, files)
                pairs: dict[str, Pair] = {
                    "gallery": ("/ui/gallery", f"/api/v2/files?limit={PAGE_SIZE}"),
                    "detail": (f"/ui/files/{file_id}", f"/api/v2/files/{file_id}"),
                }
                for html_path, json_path in pairs.values():  # warm both paths once
                    await timed(client, html_path)
                    await timed(client, json_path)
                for name, (html_path, json_path) in pairs.items():
                    html: list[float] = []
                    json: list[float] = []
                    for turn in range(requests):
                        first, second = (html, json) if turn % 2 else (json, html)
                        paths = (html_path, json_path) if turn % 2 else (json_path, html_path)
                        first.append(await timed(client, paths[0]))
                        second.append(await timed(client, paths[1]))
                    report(name, html, json)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    asyncio.run(run(args.files, args.requests))


if __name__ == "__main__":
    main()
