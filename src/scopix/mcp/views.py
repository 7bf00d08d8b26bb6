"""What the MCP tools answer: the SDK's results as small JSON objects.

An agent pays for every token it reads, so the views keep what it can act on (ids,
statuses, the description, tags, the text) and leave out what only a browser needs
(thumbnail URLs, signed links, region polygons). Long text is clipped, and the view says so.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from scopix.types.documents import DocumentSearchHit
from scopix.types.extraction import ExtractionResult
from scopix.types.files import FileDetails, FileList, ProcessingStatus
from scopix.types.folders import Folder, FolderContents
from scopix.types.upload import UploadResult

#: Characters of a file's text shown inline by ``get_file`` and the upload tools.
TEXT_PREVIEW_CHARS: Final = 2_000
#: Characters of a description shown per search hit.
HIT_DESCRIPTION_CHARS: Final = 400
#: Characters of a passage shown per document search hit.
CHUNK_CHARS: Final = 1_200

JSON = dict[str, Any]


def compact(view: JSON) -> JSON:
    """The view without its empty entries: absent says as much as null, in fewer tokens."""
    return {k: v for k, v in view.items() if v is not None and v != [] and v != {}}


def clipped(text: str | None, limit: int) -> str | None:
    """``text`` cut to ``limit`` characters, marked where it was cut."""
    if text is None or len(text) <= limit:
        return text
    return text[:limit] + f"… [{len(text) - limit} more characters]"


def _when(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def file_view(file: FileDetails) -> JSON:
    """A file as ``get_file`` shows it: what it is, what it shows, where that came from, and
    where each of its processing steps stands."""
    return compact(
        {
            "id": file.id,
            "filename": file.filename,
            "title": file.title,
            "media_type": file.media_type,
            "mime_type": file.mime_type,
            "size_bytes": file.size_bytes,
            "width": file.width,
            "height": file.height,
            "folder_id": file.folder_id,
            "project_id": file.project_id,
            "created_at": _when(file.created_at),
            "description": file.description,
            "tags": file.tags,
            "key_elements": file.key_elements,
            "visible_text": clipped(file.visible_text, TEXT_PREVIEW_CHARS),
            "text_regions": None if file.text_regions is None else len(file.text_regions),
            "confidence_score": file.confidence_score,
            "provenance": file.provenance,
            "statuses": statuses(file),
            "page_count": file.page_count,
            "chunk_count": file.chunk_count,
            "scene_count": file.scene_count,
            "source_url": file.source_url,
            "page_title": file.page_title,
        }
    )


def statuses(file: FileDetails) -> JSON:
    """Each processing step's state, and its error where one failed."""
    return compact(
        {
            "upload": file.status,
            "description": file.description_status.value,
            "description_error": file.description_error,
            "text_extraction": file.text_extraction_status,
            "text_extraction_error": file.text_extraction_error,
            "video_analysis": file.video_analysis_status,
            "video_analysis_error": file.video_analysis_error,
            "crawl": file.crawl_status,
            "crawl_error": file.crawl_error,
        }
    )


def upload_view(result: UploadResult) -> JSON:
    """An upload or a link, as stored and (when waited for) described."""
    return compact(
        {
            "id": result.image_id,
            "filename": result.filename,
            "media_type": result.media_type,
            "status": result.status,
            "description_status": result.description_status.value,
            "description": result.description,
            "tags": result.tags,
            "visible_text": clipped(result.visible_text, TEXT_PREVIEW_CHARS),
            "description_error": result.description_error,
            "deduplicated": result.deduplicated,
        }
    )


def status_view(status: ProcessingStatus) -> JSON:
    """Where a file's processing stands (a description just queued, say)."""
    return compact(
        {
            "id": status.image_id,
            "status": status.status,
            "description_status": status.description_status.value,
            "description_attempts": status.description_attempts,
            "description_error": status.description_error,
        }
    )


def hit_view(file: FileDetails) -> JSON:
    """A file found by a search: enough to pick it, ``get_file`` for the rest."""
    scene = file.matched_scene
    return compact(
        {
            "id": file.id,
            "filename": file.filename,
            "title": file.title,
            "media_type": file.media_type,
            "description": clipped(file.description, HIT_DESCRIPTION_CHARS),
            "tags": file.tags,
            "folder_id": file.folder_id,
            "matched_scene": None
            if scene is None
            else {"index": scene.scene_index, "start_seconds": scene.start_seconds},
        }
    )


def search_view(found: FileList) -> JSON:
    """A page of search results, best first."""
    return {
        "total_count": found.total_count,
        "has_more": found.has_more,
        "items": [hit_view(file) for file in found.items],
    }


def chunk_hit_view(hit: DocumentSearchHit) -> JSON:
    """A passage of a document that matched, with where it is."""
    return {
        "document_id": hit.document_id,
        "document_filename": hit.document_filename,
        "pages": hit.page_numbers,
        "score": round(hit.score, 4),
        "content": clipped(hit.content, CHUNK_CHARS),
    }


def folder_view(folder: Folder) -> JSON:
    """A folder and how much it holds."""
    return compact(
        {
            "id": folder.id,
            "name": folder.name,
            "parent_id": folder.parent_id,
            "project_id": folder.project_id,
            "depth": folder.depth,
            "file_count": folder.file_count,
            "subfolder_count": folder.subfolder_count,
        }
    )


def contents_view(contents: FolderContents) -> JSON:
    """A folder's path, its subfolders and the first of its files."""
    return {
        "folder": folder_view(contents.folder),
        "path": contents.path,
        "subfolders": [folder_view(f) for f in contents.subfolders],
        "files": [
            compact({"id": f.id, "filename": f.filename, "media_type": f.media_type})
            for f in contents.files
        ],
        "total_files": contents.total_files,
        "has_more_files": contents.has_more_files,
    }


def extraction_view(result: ExtractionResult) -> JSON:
    """An extracted record, each leaf with its confidence."""
    return compact(
        {
            "schema_id": result.schema_id,
            "status": result.status,
            "data": result.data,
            "fields": [
                compact({"path": f.path, "value": f.value, "confidence": f.confidence})
                for f in result.fields
            ],
            "confidence_score": result.confidence_score,
            "error": result.error,
            "error_type": result.error_type,
        }
    )
