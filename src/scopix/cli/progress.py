"""The live display of ``scopix upload``: bytes sent, then descriptions settled."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from scopix.cli.render import human_size
from scopix.types.events import DescriptionProgress, UploadProgress


class UploadDisplay:
    """Two bars on ``console``: bytes sent and, when ``describing``, descriptions settled.

    Nothing is drawn when ``enabled`` is false or the console is no terminal; the
    callbacks still work, so the caller need not care.
    """

    def __init__(self, console: Console, *, enabled: bool, describing: bool) -> None:
        self._progress = Progress(
            TextColumn("{task.description:<12}"),
            BarColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=console,
            disable=not (enabled and console.is_terminal),
        )
        self._sent = self._progress.add_task("uploading", total=None, detail="")
        self._described: TaskID | None = None
        if describing:
            self._described = self._progress.add_task(
                "describing", total=None, detail="waiting for uploads"
            )

    def __enter__(self) -> UploadDisplay:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def on_upload(self, event: UploadProgress) -> None:
        """Move the bytes bar (``upload_batch``'s ``on_progress``)."""
        detail = (
            f"{event.files_done}/{event.files_total} files, "
            f"{human_size(event.bytes_sent)} of {human_size(event.bytes_total)}"
        )
        self._progress.update(
            self._sent, total=event.bytes_total, completed=event.bytes_sent, detail=detail
        )

    def on_descriptions(self, event: DescriptionProgress) -> None:
        """Move the descriptions bar (``upload_batch``'s ``on_description_progress``)."""
        if self._described is None:
            return
        detail = f"{event.done}/{event.total} settled"
        if event.failed:
            detail += f", {event.failed} failed"
        self._progress.update(
            self._described, total=event.total, completed=event.done, detail=detail
        )
