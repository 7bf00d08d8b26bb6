"""What the client commands print: Rich tables and panels for people, JSON for programs.

Everything here is pure: functions take SDK values and return renderables or text.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import Enum
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from scopix.types.describe import DescriptionStatus
from scopix.types.documents import DocumentSearchResults
from scopix.types.extraction import (
    ExtractedField,
    ExtractionResult,
    ExtractionSchema,
    ExtractionSchemaList,
    FieldSource,
)
from scopix.types.files import FileDetails, FileList
from scopix.types.folders import Folder, FolderContents, MovedFiles, tree_order
from scopix.types.links import LinkResult
from scopix.types.upload import QuotaInfo, UploadResult
from scopix.types.videos import MatchedScene, Scene, SceneList, VideoMetadata

NONE = "—"
_STATUS_STYLES = {
    DescriptionStatus.COMPLETED: "green",
    DescriptionStatus.SKIPPED: "green",
    DescriptionStatus.FAILED: "red",
    DescriptionStatus.PENDING: "yellow",
    DescriptionStatus.QUEUED: "yellow",
    DescriptionStatus.PROCESSING: "yellow",
}
_STATE_STYLES = {status.value: style for status, style in _STATUS_STYLES.items()}
_SIZE_UNITS = ("B", "KB", "MB", "GB", "TB")
#: How much of a document's text ``get`` shows; ``scopix text`` prints the whole.
DOCUMENT_TEXT_SHOWN = 300
#: Console width from which the upload table gets a column each for description and tags.
WIDE = 130
_COLUMNS: dict[str, dict[str, Any]] = {
    "ID": {"no_wrap": True, "min_width": 36},
    "ID and status": {"no_wrap": True, "min_width": 36},
    "File": {"overflow": "fold", "min_width": 8},
    "Upload": {"no_wrap": True},
    "Described": {"no_wrap": True},
    "Description": {"min_width": 16},
    "Tags": {"min_width": 8},
    "Size": {"justify": "right", "no_wrap": True},
    "Pages": {"justify": "right", "no_wrap": True},
    "Document": {"overflow": "fold", "min_width": 36},
    "Score": {"justify": "right", "no_wrap": True},
    "Passage": {"min_width": 24},
    "Created": {"no_wrap": True},
    "Scene": {"justify": "right", "no_wrap": True},
    "Time": {"no_wrap": True},
    "Text": {"min_width": 12},
    "URL": {"overflow": "fold", "min_width": 16},
    "Site": {"overflow": "fold", "min_width": 8},
    "Title": {"min_width": 12},
    "Crawl": {"min_width": 10},
    "Folder": {"overflow": "fold", "min_width": 12},
    "Files": {"justify": "right", "no_wrap": True},
    "Subfolders": {"justify": "right", "no_wrap": True},
    "Field": {"overflow": "fold", "min_width": 10},
    "Value": {"min_width": 16},
    "Confidence": {"justify": "right", "no_wrap": True},
    "Source": {"no_wrap": True},
    "Name": {"overflow": "fold", "min_width": 10},
    "Updated": {"no_wrap": True},
}
#: Characters of an extracted value shown in a table cell (a long text or list is cut).
VALUE_SHOWN = 200
#: Spaces a folder's name is indented by per level in ``folder_tree``.
TREE_INDENT = 2


def jsonable(value: Any) -> Any:
    """``value`` as JSON-ready data: dataclasses as dicts, enums as their values,
    datetimes as ISO 8601 strings, tuples as lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    if isinstance(value, Enum):
        return jsonable(value.value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def dumps(value: Any) -> str:
    """``value`` as indented JSON text (run through ``jsonable`` first)."""
    return json.dumps(jsonable(value), indent=2, ensure_ascii=False)


def shorten(text: str | None, width: int = 60) -> str:
    """``text`` on one line, cut to ``width`` characters with an ellipsis; "—" for nothing."""
    if not text:
        return NONE
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1].rstrip() + "…"


def human_size(size: int | None) -> str:
    """A byte count for people: "512 B", "1.5 KB", "2.0 MB"; "—" when unknown."""
    if size is None:
        return NONE
    amount, unit = float(size), 0
    while amount >= 1024 and unit < len(_SIZE_UNITS) - 1:
        amount, unit = amount / 1024, unit + 1
    return f"{size} B" if unit == 0 else f"{amount:.1f} {_SIZE_UNITS[unit]}"


def when(moment: datetime | None) -> str:
    """A timestamp to the minute, in its own time zone; "—" when unknown."""
    return moment.strftime("%Y-%m-%d %H:%M") if moment else NONE


def status_text(status: DescriptionStatus) -> Text:
    """A description status, coloured by how it ended."""
    return Text(status.value, style=_STATUS_STYLES.get(status, ""))


def state_text(state: str | None) -> Text:
    """A pipeline state such as a text extraction's, coloured as description statuses are."""
    return Text(state or NONE, style=_STATE_STYLES.get(state or "", ""))


def page_span(pages: Sequence[int]) -> str:
    """Page numbers as runs: [1, 2, 3, 7] gives "1-3, 7"; "—" for none."""
    runs: list[list[int]] = []
    for page in sorted(set(pages)):
        if runs and page == runs[-1][-1] + 1:
            runs[-1].append(page)
        else:
            runs.append([page])
    return ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs) or NONE


def clock(seconds: float) -> str:
    """A time in a video to the tenth of a second: "0:04.0", "12:30.5", "1:02:03.0"."""
    tenths = round(seconds * 10)
    minutes, tenths_left = divmod(tenths, 600)
    hours, minutes = divmod(minutes, 60)
    second = f"{tenths_left // 10:02d}.{tenths_left % 10}"
    return f"{hours}:{minutes:02d}:{second}" if hours else f"{minutes}:{second}"


def scene_span(scene: Scene | MatchedScene) -> str:
    """A scene's place in its video: "0:04.0–0:08.5"."""
    return f"{clock(scene.start_seconds)}–{clock(scene.end_seconds)}"


def snippet(content: str, query: str, width: int = 120) -> str:
    """``width`` characters of ``content`` on one line, around the first word of ``query``
    found in it (from the start when none is), with ellipses where it was cut."""
    flat = " ".join(content.split())
    if len(flat) <= width:
        return flat or NONE
    lowered = flat.lower()
    found = [i for w in query.lower().split() if (i := lowered.find(w)) >= 0]
    start = max(0, min(found, default=0) - width // 3)
    start = min(start, len(flat) - (width - 1))
    lead = "…" if start > 0 else ""
    room = width - len(lead)
    cut = flat[start : start + room]
    if start + room < len(flat):
        cut = cut[: room - 1].rstrip() + "…"
    return lead + cut


def page_footer(page: FileList) -> str:
    """ "showing a-b of total" for one page of files."""
    if not page.items:
        return f"showing 0 of {page.total_count}"
    first = page.offset + 1
    return f"showing {first}-{page.offset + len(page.items)} of {page.total_count}"


def upload_table(results: Sequence[UploadResult], width: int = WIDE) -> Table:
    """One row per uploaded file: name, id, upload and description status, description
    and tags; below ``WIDE`` columns the description and tags go under the file name."""
    if width < WIDE:
        return _narrow_upload_table(results)
    table = _table("File", "ID", "Upload", "Described", "Description", "Tags")
    for result in results:
        _add_row(
            table,
            result.filename or NONE,
            result.image_id or NONE,
            result.status or NONE,
            status_text(result.description_status),
            _description_or_error(result),
            _tags(result.tags),
        )
    return table


def _narrow_upload_table(results: Sequence[UploadResult]) -> Table:
    table = _table("File", "ID and status")
    for result in results:
        about = Text(result.filename or NONE, style="bold")
        about.append("\n").append_text(_text(_description_or_error(result)))
        about.append(f"\ntags: {_tags(result.tags)}", style="dim")
        state = Text(result.image_id or NONE)
        state.append(f"\nupload: {result.status or NONE}\ndescribed: ")
        state.append_text(status_text(result.description_status))
        _add_row(table, about, state)
    return table


def file_table(files: Sequence[FileDetails]) -> Table:
    """One row per stored file, as ``ls`` and ``search`` show them; a page holding
    documents gets a column with their page counts, a search that matched a video's scene
    one with that scene and its time."""
    pages = any(item.page_count is not None for item in files)
    scenes = any(item.matched_scene is not None for item in files)
    sites = any(item.source_url is not None for item in files)
    table = _table(
        "ID",
        "File",
        *(["Site"] if sites else []),
        "Size",
        *(["Pages"] if pages else []),
        *(["Scene"] if scenes else []),
        "Described",
        "Created",
    )
    for item in files:
        _add_row(
            table,
            item.id,
            item.page_title or item.filename or NONE,
            *([site_of(item)] if sites else []),
            human_size(item.size_bytes),
            *([_count(item.page_count)] if pages else []),
            *([_matched(item.matched_scene)] if scenes else []),
            status_text(item.description_status),
            when(item.created_at),
        )
    return table


def site_of(details: FileDetails) -> str:
    """The site a link was saved from: the name its page gives, else its host; "—" for
    files that are not links."""
    named = details.og_metadata.site_name if details.og_metadata else None
    return named or details.domain or NONE


def link_table(results: Sequence[LinkResult], fetched: Mapping[str, FileDetails]) -> Table:
    """One row per URL saved: its link's id, where its fetch stands and the page's title
    once fetched (``fetched`` holds the details of links waited for), or why the URL was
    refused."""
    table = _table("URL", "ID", "Crawl", "Title", "Described")
    for result in results:
        if result.file is None:
            refusal = f"{result.error_code or 'ERROR'}: {result.error_message or NONE}"
            _add_row(table, result.url, NONE, Text(refusal, style="red"), NONE, NONE)
            continue
        details = fetched.get(result.file.image_id)
        _add_row(
            table,
            result.url,
            result.file.image_id,
            _crawl(details) if details else result.file.status or NONE,
            _page_title(details) if details else NONE,
            status_text((details or result.file).description_status),
        )
    return table


def _crawl(details: FileDetails) -> Text:
    state = state_text(details.crawl_status)
    if details.crawl_error:
        state.append(f": {shorten(details.crawl_error, 80)}", style="red")
    return state


def _page_title(details: FileDetails) -> str:
    card = details.og_metadata.title if details.og_metadata else None
    return details.page_title or card or NONE


def scene_table(scenes: SceneList) -> Table:
    """One row per scene of a video: its number, its time, and what it shows."""
    table = _table("Scene", "Time", "Description", "Tags", "Text")
    for scene in scenes.items:
        _add_row(
            table,
            str(scene.scene_index),
            scene_span(scene),
            scene.description or NONE,
            _tags(scene.tags),
            shorten(scene.visible_text, 80),
        )
    return table


def chunk_hits_table(results: DocumentSearchResults, query: str) -> Table:
    """One row per chunk found: its document (name and id), pages, score and a passage
    around the query's words."""
    table = _table("Document", "Pages", "Score", "Passage")
    for hit in results.items:
        document = Text(hit.document_filename or NONE, style="bold")
        document.append(f"\n{hit.document_id}", style="dim")
        _add_row(
            table,
            document,
            page_span(hit.page_numbers),
            f"{hit.score:.2f}",
            snippet(hit.content, query),
        )
    return table


def hits_footer(results: DocumentSearchResults) -> str:
    """ "n of total passages" under a chunk search."""
    return f"showing {len(results.items)} of {results.total_count} passages"


def file_panel(details: FileDetails) -> Panel:
    """Everything a person wants to know about one file, in a titled panel."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for label, value in file_fields(details):
        _add_row(grid, label, value)
    return Panel(grid, title=Text(details.filename or details.id), title_align="left", expand=False)


def file_fields(details: FileDetails) -> list[tuple[str, str | Text]]:
    """The rows of ``file_panel``; error rows appear only when there is an error."""
    rows: list[tuple[str, str | Text]] = [
        ("id", details.id),
        ("filename", details.filename or NONE),
        ("title", details.title or NONE),
        ("type", _media_type(details)),
        ("size", human_size(details.size_bytes)),
        ("dimensions", _dimensions(details)),
        *_document_fields(details),
        *_video_fields(details),
        *_link_fields(details),
        ("created", when(details.created_at)),
        ("status", details.status or NONE),
        ("description status", status_text(details.description_status)),
        ("description", details.description or NONE),
        ("tags", _tags(details.tags)),
        ("visible text", _visible_text(details)),
        *_source_fields(details),
    ]
    return rows + _error_fields(details)


def quota_table(quota: QuotaInfo) -> Table:
    """The quota check as a two-column key/value table."""
    table = Table(box=box.SIMPLE_HEAD, show_header=False)
    table.add_column(style="bold")
    table.add_column()
    for key, value in dataclasses.asdict(quota).items():
        if key.startswith("storage_"):
            continue
        _add_row(table, key.replace("_", " "), NONE if value is None else str(value))
    if quota.storage_used_bytes is not None:  # a server that counts stored bytes
        _add_row(table, "storage used", human_size(quota.storage_used_bytes))
        _add_row(table, "storage limit", _storage_bound(quota.storage_limit_bytes))
        _add_row(table, "storage available", _storage_bound(quota.storage_available_bytes))
    return table


def _storage_bound(size: int | None) -> str:
    return "unlimited" if size is None else human_size(size)


def status_line(status: DescriptionStatus) -> Text:
    """ "description status: <status>", the status coloured."""
    return Text.assemble(("description status: ", "bold"), status_text(status))


def state_line(label: str, state: str) -> Text:
    """ "<label>: <state>", the state coloured."""
    return Text.assemble((f"{label}: ", "bold"), state_text(state))


def description_view(result: UploadResult) -> RenderableType:
    """The description status and text of one file, after ``describe``."""
    lines: list[RenderableType] = [status_line(result.description_status)]
    if result.description:
        lines.append(Text(result.description))
    if result.tags:
        lines.append(Text.assemble(("tags: ", "bold"), ", ".join(result.tags)))
    if result.description_error:
        lines.append(Text(f"error: {result.description_error}", style="red"))
    return Group(*lines)


def folder_tree(folders: Sequence[Folder]) -> Table:
    """The folders as a tree: each under its parent, its name indented by its depth, with
    how many files and subfolders it holds directly."""
    table = _table("Folder", "Files", "Subfolders", "ID")
    for folder in tree_order(folders):
        indent = " " * (TREE_INDENT * folder.depth)
        _add_row(
            table,
            indent + folder.name,
            str(folder.file_count),
            str(folder.subfolder_count),
            folder.id,
        )
    return table


def folder_panel(folder: Folder, path: str | None = None) -> Panel:
    """One folder's fields in a titled panel; ``path`` its names from the top level down."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    rows = [
        ("id", folder.id),
        ("path", path or folder.name),
        ("parent", folder.parent_id or "(top level)"),
        ("project", folder.project_id or "(no project)"),
        ("depth", str(folder.depth)),
        ("files", str(folder.file_count)),
        ("subfolders", str(folder.subfolder_count)),
        ("created", when(folder.created_at)),
        ("updated", when(folder.updated_at)),
    ]
    for label, value in rows:
        _add_row(grid, label, value)
    return Panel(grid, title=Text(folder.name), title_align="left", expand=False)


def folder_view(contents: FolderContents, offset: int = 0) -> RenderableType:
    """A folder, its subfolders and one page of its files (that page starting at ``offset``)."""
    parts: list[RenderableType] = [folder_panel(contents.folder, contents.path)]
    if contents.subfolders:
        parts.append(folder_tree(contents.subfolders))
    if contents.files:
        parts.append(file_table(contents.files))
    shown = len(contents.files)
    span = f"{offset + 1}-{offset + shown}" if shown else "0"
    parts.append(Text(f"showing {span} of {contents.total_files} files"))
    return Group(*parts)


def moved_summary(moved: MovedFiles) -> Text:
    """ "moved n files", and the ids skipped (unknown or deleted) in red."""
    line = Text(f"moved {len(moved.moved)} file{'' if len(moved.moved) == 1 else 's'}")
    if moved.skipped:
        line.append(f"\nskipped (unknown or deleted): {', '.join(moved.skipped)}", style="red")
    return line


def extraction_view(result: ExtractionResult) -> RenderableType:
    """An extraction: its state and overall confidence, a row per field, and why it failed."""
    parts: list[RenderableType] = [
        Text.assemble(("extraction status: ", "bold"), state_text(result.status)),
        Text.assemble(("schema: ", "bold"), result.schema_id),
        Text.assemble(("confidence: ", "bold"), confidence(result.confidence_score)),
    ]
    if result.fields:
        parts.append(extraction_table(result.fields))
    if result.is_failed:
        error = f"error: {result.error_type or 'unknown'}: {result.error or NONE}"
        parts.append(Text(error, style="red"))
    return Group(*parts)


def extraction_table(fields: Sequence[ExtractedField]) -> Table:
    """One row per extracted field: its dotted path, value, confidence and where in the
    file it was read; narrow enough for 80 columns (long values wrap)."""
    table = _table("Field", "Value", "Confidence", "Source")
    for item in fields:
        value = NONE if item.value is None else shorten(value_text(item.value), VALUE_SHOWN)
        _add_row(table, item.path, value, confidence(item.confidence), source_text(item.source))
    return table


def value_text(value: Any) -> str:
    """An extracted value as a person reads it: text as it is, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def confidence(score: float | None) -> str:
    """A confidence (0-1) to two places: "0.93"; "—" when there is none."""
    return NONE if score is None else f"{score:.2f}"


def source_text(source: FieldSource | None) -> str:
    """Where a value was read: "p.2 (0.12, 0.34)" (page and the top-left corner of its box),
    "p.2" without a box, "(0.12, 0.34)" on an image; "—" when unknown."""
    if source is None:
        return NONE
    parts = [] if source.page is None else [f"p.{source.page}"]
    if source.bbox is not None:
        parts.append(f"({source.bbox.x:.2f}, {source.bbox.y:.2f})")
    return " ".join(parts) or NONE


def schema_table(page: ExtractionSchemaList) -> Table:
    """One row per stored extraction schema: name, id, description, last change."""
    table = _table("Name", "ID", "Description", "Updated")
    for schema in page.items:
        _add_row(
            table, schema.name, schema.id, shorten(schema.description, 60), when(schema.updated_at)
        )
    return table


def schema_footer(page: ExtractionSchemaList) -> str:
    """ "showing a-b of total schemas" under a page of schemas."""
    if not page.items:
        return f"showing 0 of {page.total_count} schemas"
    last = page.offset + len(page.items)
    return f"showing {page.offset + 1}-{last} of {page.total_count} schemas"


def schema_view(schema: ExtractionSchema) -> RenderableType:
    """A stored schema's fields in a titled panel, then the JSON Schema itself."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    rows = [
        ("id", schema.id),
        ("description", schema.description or NONE),
        ("prompt hint", schema.prompt_hint or NONE),
        ("created", when(schema.created_at)),
        ("updated", when(schema.updated_at)),
    ]
    for label, value in rows:
        _add_row(grid, label, value)
    panel = Panel(grid, title=Text(schema.name), title_align="left", expand=False)
    return Group(panel, Text(json.dumps(schema.schema, indent=2, ensure_ascii=False)))


def _table(*headers: str) -> Table:
    """A table with these columns; ids never wrap, names fold, the rest wraps at words."""
    table = Table(box=box.SIMPLE_HEAD)
    for header in headers:
        table.add_column(header, **_COLUMNS.get(header, {}))
    return table


def _add_row(table: Table, *cells: str | Text) -> None:
    """Add a row whose text cells are taken literally (a "[" in a filename is no markup)."""
    table.add_row(*(_text(c) for c in cells))


def _text(cell: str | Text) -> Text:
    return Text(cell) if isinstance(cell, str) else cell


def _tags(tags: Sequence[str] | None) -> str:
    return ", ".join(tags or []) or NONE


def _description_or_error(result: UploadResult) -> str | Text:
    if result.is_failed and result.description_error:
        return Text(shorten(result.description_error, 100), style="red")
    return shorten(result.description)


def _media_type(details: FileDetails) -> str:
    known = [t for t in (details.media_type, details.mime_type) if t]
    return " / ".join(known) or NONE


def _is_document(details: FileDetails) -> bool:
    return details.text_extraction_status is not None or details.page_count is not None


def _document_fields(details: FileDetails) -> list[tuple[str, str | Text]]:
    """A document's pages, text extraction state and chunks; nothing for other files."""
    if not _is_document(details):
        return []
    return [
        ("pages", _count(details.page_count)),
        ("text extraction", state_text(details.text_extraction_status)),
        ("chunks", _count(details.chunk_count)),
    ]


def _video_fields(details: FileDetails) -> list[tuple[str, str | Text]]:
    """A video's length, codecs, scene analysis and scenes; nothing for other files."""
    if details.video_analysis_status is None and details.video_metadata is None:
        return []
    return [
        *_video_metadata_fields(details.video_metadata),
        ("scene analysis", state_text(details.video_analysis_status)),
        ("scenes", _count(details.scene_count)),
    ]


def _link_fields(details: FileDetails) -> list[tuple[str, str | Text]]:
    """A link's URL, site, page title, fetch and images; nothing for other files."""
    if details.source_url is None:
        return []
    return [
        ("url", details.source_url),
        ("site", site_of(details)),
        ("page title", _page_title(details)),
        ("crawl", state_text(details.crawl_status)),
        ("crawled", when(details.crawled_at)),
        ("images", _count(details.extracted_images_count)),
    ]


def _video_metadata_fields(metadata: VideoMetadata | None) -> list[tuple[str, str | Text]]:
    if metadata is None:
        return []
    rate = NONE if metadata.frame_rate is None else f"{metadata.frame_rate:g} fps"
    return [
        ("duration", clock(metadata.duration_seconds)),
        ("frame rate", rate),
        ("codecs", " + ".join(c for c in (metadata.video_codec, metadata.audio_codec) if c)),
    ]


def _matched(scene: MatchedScene | None) -> str:
    return NONE if scene is None else f"{scene.scene_index} ({scene_span(scene)})"


def _visible_text(details: FileDetails) -> str:
    """The visible text; of a document or a link (whose text can run to many pages) only
    the start."""
    text = details.visible_text
    if not text:
        return NONE
    long_text = _is_document(details) or details.source_url is not None
    if not long_text or len(text) <= DOCUMENT_TEXT_SHOWN:
        return text
    return f"{shorten(text, DOCUMENT_TEXT_SHOWN)}\n(scopix text {details.id} prints all of it)"


def _source_fields(details: FileDetails) -> list[tuple[str, str]]:
    """One row naming who wrote the description, the visible text and the embedding, and how
    sure each was; none before the file is described."""
    provenance = details.provenance or {}
    parts = [
        f"{label}: {_source(provenance[key])}"
        for key, label in (("description", "description"), ("visible_text", "text"))
        if provenance.get(key)
    ]
    embedding = provenance.get("embedding")
    if embedding:
        parts.append(f"embedding: {embedding.get('analyzer')}")
    return [("sources", "\n".join(parts))] if parts else []


def _source(source: Mapping[str, Any]) -> str:
    confidence = source.get("confidence")
    sure = "" if confidence is None else f" ({confidence:.0%} sure)"
    return f"{source.get('analyzer')}{sure}"


def _count(count: int | None) -> str:
    return NONE if count is None else str(count)


def _dimensions(details: FileDetails) -> str:
    if details.width is None or details.height is None:
        return NONE
    return f"{details.width} × {details.height}"


def _error_fields(details: FileDetails) -> list[tuple[str, str | Text]]:
    found = {
        "description error": details.description_error,
        "error type": details.description_error_type,
        "retryable": None
        if details.description_is_retryable is None
        else ("yes" if details.description_is_retryable else "no"),
        "variant error": details.variant_error,
        "text extraction error": details.text_extraction_error,
        "crawl error": details.crawl_error,
    }
    return [(label, Text(value, style="red")) for label, value in found.items() if value]
