"""Videos: a video's scenes, each with its times and what it shows, and their thumbnails."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from scopix.server.api.blobs import blob_response
from scopix.server.api.deps import Reader, ServicesDep
from scopix.server.api.presenters import UrlMaker, scene_list
from scopix.server.api.schemas import ErrorEnvelope, SceneListOut

router = APIRouter(tags=["videos"], responses={"default": {"model": ErrorEnvelope}})


@router.get("/files/{file_id}/scenes", response_model=SceneListOut)
async def list_scenes(
    request: Request, file_id: str, principal: Reader, services: ServicesDep
) -> SceneListOut:
    """A video's scenes in order, with their times and thumbnails and, once the video is
    described, what each shows (409 while its scenes are being found, or when that failed)."""
    scenes = await services.videos.scenes(principal.tenant_id, file_id)
    return scene_list(file_id, scenes, UrlMaker(request))


@router.get(
    "/files/{file_id}/scenes/{scene_index}/thumbnail",
    response_class=Response,
    responses={200: {"content": {"image/webp": {}}, "description": "the scene's keyframe"}},
)
async def get_scene_thumbnail(
    file_id: str,
    scene_index: Annotated[int, Path(ge=0, le=1_000_000, description="0-based")],
    principal: Reader,
    services: ServicesDep,
) -> Response:
    """Scene `scene_index`'s thumbnail: its keyframe as WebP, 512 pixels on its longest side."""
    location = await services.videos.thumbnail(principal.tenant_id, file_id, scene_index)
    return blob_response(services, location, attachment=False)
