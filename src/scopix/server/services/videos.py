"""What the video routes do: a video's scenes with what each shows, a scene's thumbnail, and
which scene of a video a file search matched."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scopix.server.catalog.models import File, VideoScene
from scopix.server.catalog.uow import UnitOfWork, UnitOfWorkFactory
from scopix.server.domain.errors import Conflict, NotFound, WrongMediaType
from scopix.server.domain.scene_match import SceneMatch, SceneText, matched_scene
from scopix.server.services.files import BlobLocation, FileView, live_file


@dataclass(frozen=True)
class SceneView:
    """One scene of a video: its times, whether it has a thumbnail, and its own analysis
    (`description`, `tags`, `visible_text`; None until the video is described)."""

    scene: VideoScene
    analysis: Mapping[str, Any] | None

    @property
    def description(self) -> str | None:
        return None if self.analysis is None else self.analysis.get("description")

    @property
    def tags(self) -> list[str]:
        return [] if self.analysis is None else list(self.analysis.get("tags") or [])

    @property
    def visible_text(self) -> str | None:
        return None if self.analysis is None else self.analysis.get("visible_text") or None


class VideoService:
    """The use cases behind `/files/{id}/scenes` and `/files/{id}/scenes/{n}/thumbnail`, and
    the `matched_scene` of a video in file search results."""

    def __init__(self, uows: UnitOfWorkFactory) -> None:
        self.uows = uows

    async def scenes(self, tenant_id: str, file_id: str) -> list[SceneView]:
        """A video's scenes in order, each with its analysis once the video is described;
        409 while its scenes are being found, or when that failed (with the reason)."""
        async with self.uows.read() as uow:
            file = await _video(uow, tenant_id, file_id)
            _check_analysed(file)
            return await _scene_views(uow, file)

    async def thumbnail(self, tenant_id: str, file_id: str, index: int) -> BlobLocation:
        """Where scene `index`'s WebP thumbnail is stored."""
        async with self.uows.read() as uow:
            file = await _video(uow, tenant_id, file_id)
            _check_analysed(file)
            scenes = await uow.videos.scenes(tenant_id, file.id)
        scene = next((s for s in scenes if s.scene_index == index), None)
        if scene is None:
            raise NotFound(f"the video has {len(scenes)} scenes", scene_index=index)
        if scene.thumbnail_key is None:
            raise NotFound("this scene has no thumbnail", scene_index=index)
        name = f"{file.filename}.scene-{index}.webp"
        return BlobLocation(scene.thumbnail_key, "image/webp", name)

    async def matched_scenes(
        self, tenant_id: str, query: str, views: Sequence[FileView]
    ) -> dict[str, SceneMatch]:
        """For each video among `views` (a search's results for `query`), the scene whose
        words hold the most of the query's; videos where none does are left out."""
        videos = [v.file for v in views if _has_scenes(v.file)]
        if not videos:
            return {}
        found: dict[str, SceneMatch] = {}
        async with self.uows.read() as uow:
            for file in videos:
                views_of_scenes = await _scene_views(uow, file)
                match = matched_scene(query, (_scene_text(v) for v in views_of_scenes))
                if match is not None:
                    found[file.id] = match
        return found


async def _video(uow: UnitOfWork, tenant_id: str, file_id: str) -> File:
    """The tenant's live file, which must be a video: a file with a scene analysis."""
    file = await live_file(uow, tenant_id, file_id)
    if file.video_analysis_status is None:
        raise WrongMediaType(
            f"a {file.media_type} file has no scenes: only videos do", media_type=file.media_type
        )
    return file


def _check_analysed(file: File) -> None:
    """409 unless the video's scenes were found."""
    status = file.video_analysis_status
    if status == "completed":
        return
    if status == "failed":
        raise Conflict(
            f"the video's scenes could not be found: {file.video_analysis_error}",
            video_analysis_status=status,
            video_analysis_error_type=file.video_analysis_error_type,
        )
    raise Conflict(
        f"the video's scene analysis is {status}: its scenes are not found yet",
        video_analysis_status=status,
    )


def _has_scenes(file: File) -> bool:
    return file.video_analysis_status == "completed"


async def _scene_views(uow: UnitOfWork, file: File) -> list[SceneView]:
    """The video's scenes, each beside its part of the video's analysis when there is one."""
    scenes = await uow.videos.scenes(file.tenant_id, file.id)
    parts = await _parts(uow, file)
    return [SceneView(scene, parts.get(scene.scene_index)) for scene in scenes]


async def _parts(uow: UnitOfWork, file: File) -> dict[int, Mapping[str, Any]]:
    """The per-scene results of the video's description by scene index: a part names its
    scene (`scene_index`), or else stands at its scene's place."""
    if file.analysis_pipeline is None:
        return {}
    analysis = await uow.analyses.get(file.tenant_id, file.sha256, file.analysis_pipeline)
    if analysis is None or not analysis.parts:
        return {}
    return {
        int(part.get("scene_index", position)): part for position, part in enumerate(analysis.parts)
    }


def _scene_text(view: SceneView) -> SceneText:
    scene = view.scene
    return SceneText(
        scene.scene_index,
        scene.start_seconds,
        scene.end_seconds,
        view.description,
        view.visible_text,
    )
