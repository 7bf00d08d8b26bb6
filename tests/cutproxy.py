"""A TCP proxy that cuts a connection once, in the middle of what the client sends.

    with CutProxy(server_port, cut_after=20 * MiB) as proxy:
        ...  # talk to 127.0.0.1:proxy.port; proxy.cuts says whether the cut happened

Every byte clients send is counted, over all connections; the connection that carries byte
number ``cut_after`` is forwarded up to it and then reset, once. After that the proxy only
forwards. It runs its own event loop in a thread, so sync and async clients alike can use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from types import TracebackType


class CutProxy:
    """Forwards 127.0.0.1:``port`` to 127.0.0.1:``target_port``; see the module docstring."""

    def __init__(self, target_port: int, cut_after: int) -> None:
        self.target_port = target_port
        self.cut_after = cut_after
        self.forwarded = 0
        self.cuts = 0
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    def __enter__(self) -> CutProxy:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result()
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    async def _listen(self) -> asyncio.Server:
        return await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def _close(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._open:
            writer.transport.abort()
        await self._server.wait_closed()

    async def _serve(
        self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter
    ) -> None:
        server_in, server_out = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._open |= {client_out, server_out}
        pumps = [
            asyncio.ensure_future(self._pump(client_in, server_out, counted=True)),
            asyncio.ensure_future(self._pump(server_in, client_out, counted=False)),
        ]
        await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        for writer in (client_out, server_out):
            writer.transport.abort()  # a reset, as a dropped network gives
            self._open.discard(writer)
        await asyncio.gather(*pumps)

    async def _pump(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, *, counted: bool
    ) -> None:
        with contextlib.suppress(ConnectionError):  # the other side went away: over either way
            await self._forward(source, sink, counted=counted)

    async def _forward(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, *, counted: bool
    ) -> None:
        while data := await source.read(64 * 1024):
            if counted and self.cuts == 0 and self.forwarded + len(data) >= self.cut_after:
                sink.write(data[: self.cut_after - self.forwarded])
                await sink.drain()
                self.forwarded = self.cut_after
                self.cuts = 1
                return
            if counted:
                self.forwarded += len(data)
            sink.write(data)
            await sink.drain()
