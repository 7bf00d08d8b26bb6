"""The page at `/`, the HTML fragments it fetches with the caller's key (cards, a file's detail,
the folder tree), the links it saves, and signed images, document pages, originals (a video
plays from one) and scene thumbnails."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from scopix import __version__
from scopix.server.api.blobs import blob_response
from scopix.server.api.deps import Reader, ServicesDep, Writer
from scopix.server.api.presenters import UrlMaker, file_out
from scopix.server.api.schemas import FileOut
from scopix.server.domain.errors import Conflict, NotFound, SearchUnavailable, WrongMediaType
from scopix.server.domain.fields import MAX_NAME_CHARS
from scopix.server.domain.listing import MAX_IDS, MAX_SEARCH_CHARS, file_query
from scopix.server.domain.scene_match import SceneMatch
from scopix.server.domain.signing import PageGrant, SceneGrant, ViewGrant
from scopix.server.domain.variants import ORIGINAL
from scopix.server.services.container import Services
from scopix.server.services.custom_extraction import INLINE_PREFIX
from scopix.server.services.files import FileView
from scopix.server.services.folders import MAX_FOLDER_PAGE, FolderView
from scopix.server.services.image_links import ImageLink, ImageLinks
from scopix.server.services.keys import Principal
from scopix.server.services.links import LinkRequest
from scopix.server.web import views
from scopix.server.web.forms import PAGE_SIZE, GalleryForm, LinkForm

HERE = FilePath(__file__).parent
STATIC = HERE / "static"
SIMILAR_COUNT = 12

router = APIRouter(include_in_schema=False)
static_files = StaticFiles(directory=STATIC)

#: Scripts and styles from this server only, no inline code: a key in session storage is only
#: as safe as the page that holds it. Images may come from other sites for one thing, a saved
#: link's favicon from its own site (an image cannot run code or read the key; the page sends
#: no referrer with it).
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: http:; "
        "media-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
        "frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
FRAGMENT_HEADERS = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}
#: A page's URL changes with its expiry and names one rendering of bytes that never change.
PAGE_IMAGE_HEADERS = {
    "Cache-Control": "private, max-age=7200, immutable",
    "X-Content-Type-Options": "nosniff",
}

_templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_templates.filters.update(
    size=views.human_size,
    when=views.when,
    points=views.points,
    percent=views.percent,
    clock=views.clock,
    said_by=views.said_by,
    tag_titles=views.tag_titles,
)
_templates.globals.update(
    is_moving=views.is_moving,
    pipeline_status=views.pipeline_status,
    page_thumb_size=views.PAGE_THUMB_SIZE,
)


@cache
def asset(name: str) -> str:
    """A static file's URL, changed whenever its content changes (so it can be cached)."""
    digest = hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]
    return f"/static/{name}?v={digest}"


def render(template: str, headers: Mapping[str, str], **context: Any) -> HTMLResponse:
    html = _templates.get_template(template).render(asset=asset, **context)
    return HTMLResponse(html, headers=dict(headers))


class Images:
    """Signed image URLs for the templates, for one tenant."""

    def __init__(self, links: ImageLinks, principal: Principal) -> None:
        self.links = links
        self.tenant_id = principal.tenant_id

    def url(self, file_id: str, variant: str) -> str:
        link = self.links.sign(self.tenant_id, file_id, variant)
        return f"/ui/images/{file_id}/{variant}?{self._query(link)}"

    def download(self, file_id: str) -> str:
        link = self.links.sign(self.tenant_id, file_id, ORIGINAL)
        return f"/ui/downloads/{file_id}?{self._query(link)}"

    def scene(self, file_id: str, index: int) -> str:
        """The thumbnail of scene `index` (0-based) of a video."""
        link = self.links.sign_scene(self.tenant_id, file_id, index)
        return f"/ui/scenes/{file_id}/{index}?{self._query(link)}"

    def page(self, file_id: str, number: int, size: int) -> str:
        """Page `number` of a document, at most `size` pixels on a side."""
        link = self.links.sign_page(self.tenant_id, file_id, number, size)
        return f"/ui/pages/{file_id}/{number}?size={size}&{self._query(link)}"

    def _query(self, link: ImageLink) -> str:
        return f"tenant={self.tenant_id}&expires={link.expires}&signature={link.signature}"


@router.get("/", response_class=HTMLResponse)
async def page(request: Request, services: ServicesDep) -> HTMLResponse:
    """The page; its filters come from the query string, so a search can be bookmarked."""
    form = GalleryForm.read(request.query_params)
    return render(
        "page.html",
        PAGE_HEADERS,
        form=form.values,
        version=__version__,
        max_upload_bytes=services.settings.max_upload_bytes,
        max_search_chars=MAX_SEARCH_CHARS,
        max_name_chars=MAX_NAME_CHARS,
    )


@router.get("/ui/gallery", response_class=HTMLResponse)
async def gallery(
    request: Request,
    principal: Reader,
    services: ServicesDep,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> HTMLResponse:
    """One page of cards for the filters in the query string; the paging is in headers."""
    form = GalleryForm.read(request.query_params)
    query = form.query(offset)
    page = await services.files.page(principal.tenant_id, query)
    headers = {**FRAGMENT_HEADERS, "X-Total-Count": str(page.total_count)}
    if page.has_more:
        headers["X-Next-Offset"] = str(offset + PAGE_SIZE)
    # A video found by its words opens at the scene that holds them.
    matches = (
        await services.videos.matched_scenes(principal.tenant_id, query.search.text, page.items)
        if query.search is not None
        else {}
    )
    return _cards(request, principal, services, page.items, headers, matches)


@router.get("/ui/cards", response_class=HTMLResponse)
async def cards(
    request: Request,
    principal: Reader,
    services: ServicesDep,
    ids: Annotated[str, Query(max_length=MAX_IDS * 40)],
) -> HTMLResponse:
    """The cards of these files as they stand now: the page asks when events touch them."""
    query = file_query(ids=[ids], limit=100)
    page = await services.files.page(principal.tenant_id, query)
    return _cards(request, principal, services, page.items, FRAGMENT_HEADERS)


@router.post("/ui/links", response_class=HTMLResponse, status_code=201)
async def add_link(
    request: Request, form: LinkForm, principal: Writer, services: ServicesDep
) -> HTMLResponse:
    """Saves the link typed in the page and answers with its card, to follow while the page is
    fetched. A URL that is not one, or that names a refused address, is a 422 whose message the
    page shows (`INVALID_URL`, `URL_REFUSED`); nothing is saved then."""
    added = await services.links.add(
        principal.tenant_id, LinkRequest(form.url, folder_id=form.folder_id)
    )
    view = await services.files.get(principal.tenant_id, added.file.id)
    response = _cards(request, principal, services, [view], FRAGMENT_HEADERS)
    response.status_code = 201
    return response


@router.get("/ui/files/{file_id}", response_class=HTMLResponse)
async def detail(
    request: Request, file_id: str, principal: Reader, services: ServicesDep
) -> HTMLResponse:
    """A file's detail view."""
    view = await services.files.get(principal.tenant_id, file_id)
    file = file_out(view, UrlMaker(request), with_history=True)
    images = Images(services.image_links, principal)
    document = views.document_facts(view.file)
    video = views.video_facts(view.file)
    link = views.link_facts(view.file)
    extractions = await _extractions(services, principal.tenant_id, file.id, named=True)
    return render(
        "detail.html",
        FRAGMENT_HEADERS,
        file=file,
        image=views.best_image(
            file.variants, services.media.handler_for(file.media_type).shows_original
        ),
        document=document,
        page=(
            await _page_view(services, principal, file, document, 1, extractions)
            if document
            else None
        ),
        video=video,
        scenes=await _scene_views(services, images, file.id, video) if video else [],
        link=link,
        page_text=(
            await _page_text(services, principal, file.id, link) if link and not document else None
        ),
        extractions=extractions,
        sources=views.sources_on(extractions, None),
        user_tags=view.user_tags,
        images=images,
        can_write="write" in principal.scopes,
    )


@router.get("/ui/files/{file_id}/pages/{number}", response_class=HTMLResponse)
async def document_page(
    request: Request,
    file_id: str,
    number: Annotated[int, Path(ge=1)],
    principal: Reader,
    services: ServicesDep,
) -> HTMLResponse:
    """The page viewer on page `number` of a document: the page, its text boxes, its text."""
    view = await services.files.get(principal.tenant_id, file_id)
    document = views.document_facts(view.file)
    if document is None:
        raise WrongMediaType(f"only documents have pages; this file is a {view.file.media_type}")
    file = file_out(view, UrlMaker(request))
    extractions = await _extractions(services, principal.tenant_id, file.id, named=False)
    return render(
        "document_page.html",
        FRAGMENT_HEADERS,
        file=file,
        document=document,
        page=await _page_view(services, principal, file, document, number, extractions),
    )


@router.get("/ui/files/{file_id}/similar", response_class=HTMLResponse)
async def similar(
    request: Request, file_id: str, principal: Reader, services: ServicesDep
) -> HTMLResponse:
    """Cards of the files that look most like this one, or why there are none yet."""
    try:
        found = await services.files.similar(principal.tenant_id, file_id, SIMILAR_COUNT)
    except (Conflict, SearchUnavailable) as exc:
        return render("notice.html", FRAGMENT_HEADERS, message=exc.message)
    if not found:
        return render("notice.html", FRAGMENT_HEADERS, message="No other files to compare yet.")
    return _cards(request, principal, services, found, FRAGMENT_HEADERS, movable=False)


@router.get("/ui/folders", response_class=HTMLResponse)
async def folders(
    principal: Reader,
    services: ServicesDep,
    folder_id: Annotated[str | None, Query(max_length=64)] = None,
) -> HTMLResponse:
    """The folder tree with each folder's file count, the path to the open folder, and the
    folders a file can be moved to. The open folder is in `data-open` of the tree: blank when
    it is not there (deleted since the page opened it)."""
    tree = views.folder_tree(await _all_folders(services, principal.tenant_id))
    path = tree.path(folder_id) if folder_id else []
    return render(
        "folders.html",
        FRAGMENT_HEADERS,
        tree=tree,
        path=path,
        open_id=path[-1].id if path else "",
        can_write="write" in principal.scopes,
    )


@dataclass(frozen=True)
class SignedQuery:
    """The query of a signed link: whose file, until when, and the proof."""

    tenant: str
    expires: int
    signature: str

    def grant(self, file_id: str, variant: str) -> ViewGrant:
        return ViewGrant(self.tenant, file_id, variant, self.expires)


def signed_query(
    tenant: Annotated[str, Query(max_length=64)],
    expires: Annotated[int, Query()],
    signature: Annotated[str, Query(max_length=128)],
) -> SignedQuery:
    return SignedQuery(tenant, expires, signature)


Signed = Annotated[SignedQuery, Depends(signed_query)]


@router.get("/ui/images/{file_id}/{variant}", response_class=Response)
async def image(file_id: str, variant: str, services: ServicesDep, signed: Signed) -> Response:
    """An image the page links to; the signature stands in for the key."""
    grant = signed.grant(file_id, variant)
    location = await services.image_links.open(grant, signed.signature)
    return blob_response(services, location, attachment=not views.shows_inline(location))


@router.get("/ui/pages/{file_id}/{number}", response_class=Response)
async def page_image(
    file_id: str,
    number: Annotated[int, Path(ge=1)],
    size: Annotated[int, Query(ge=1, le=views.MAX_PAGE_SIZE)],
    services: ServicesDep,
    signed: Signed,
) -> Response:
    """A document's page as WebP, for the page viewer; the signature stands in for the key."""
    grant = PageGrant(signed.tenant, file_id, number, size, signed.expires)
    services.image_links.check_page(grant, signed.signature)
    webp = await services.documents.page(signed.tenant, file_id, number, size)
    return Response(webp, media_type="image/webp", headers=PAGE_IMAGE_HEADERS)


@router.get("/ui/scenes/{file_id}/{index}", response_class=Response)
async def scene_thumbnail(
    file_id: str,
    index: Annotated[int, Path(ge=0)],
    services: ServicesDep,
    signed: Signed,
) -> Response:
    """A video's scene thumbnail (WebP), for the scene strip; the signature stands in for the
    key."""
    grant = SceneGrant(signed.tenant, file_id, index, signed.expires)
    services.image_links.check_scene(grant, signed.signature)
    location = await services.videos.thumbnail(signed.tenant, file_id, index)
    return blob_response(services, location, attachment=False)


@router.get("/ui/downloads/{file_id}", response_class=Response)
async def download(
    request: Request, file_id: str, services: ServicesDep, signed: Signed
) -> Response:
    """A file's original as an attachment, which a video's player also plays: a `Range` is
    answered with just those bytes, so the player seeks without fetching the whole file. The
    signature stands in for the key."""
    grant = signed.grant(file_id, ORIGINAL)
    location = await services.image_links.open(grant, signed.signature)
    return blob_response(services, location, attachment=True, request=request)


async def _all_folders(services: Services, tenant_id: str) -> list[FolderView]:
    """Every folder of the tenant, in pages of the most one listing holds."""
    found: list[FolderView] = []
    while True:
        page = await services.folders.page(tenant_id, None, MAX_FOLDER_PAGE, len(found))
        found.extend(page.items)
        if not page.items or len(found) >= page.total_count:
            return found


def _cards(
    request: Request,
    principal: Principal,
    services: Services,
    items: Sequence[FileView],
    headers: Mapping[str, str],
    matches: Mapping[str, SceneMatch] | None = None,
    *,
    movable: bool = True,
) -> HTMLResponse:
    """Cards of these files; `movable` ones (the gallery's, for a key that may write) can be
    dragged onto a folder and have a "Move to…" button."""
    urls = UrlMaker(request)
    matched = matches or {}
    return render(
        "cards.html",
        headers,
        cards=[
            (
                file_out(view, urls),
                views.document_facts(view.file),
                views.video_facts(view.file),
                views.link_facts(view.file),
                matched.get(view.file.id),
            )
            for view in items
        ],
        images=Images(services.image_links, principal),
        movable=movable and "write" in principal.scopes,
    )


@dataclass(frozen=True)
class PageView:
    """One page of a document as the viewer shows it."""

    number: int
    count: int
    #: the signed URL of the page rendered large, or None when the pages do not render
    image: str | None
    regions: list[Mapping[str, Any]]
    #: where the file's extracted values were read on this page
    sources: list[views.SourceBox]
    #: the page's text, or None until it has been extracted
    text: str | None


@dataclass(frozen=True)
class SceneView:
    """One scene of a video as the strip and its notes show it."""

    index: int
    start_seconds: float
    end_seconds: float
    #: the signed URL of its thumbnail, or None when it has none
    thumbnail: str | None
    #: what the scene shows and the text in it, or None until the video is described
    description: str | None
    visible_text: str | None


async def _scene_views(
    services: Services, images: Images, file_id: str, video: views.VideoFacts
) -> list[SceneView]:
    """The video's scenes once they were found; none before (the page says why)."""
    if video.analysis_status != "completed":
        return []
    found = await services.videos.scenes(images.tenant_id, file_id)
    return [
        SceneView(
            index=view.scene.scene_index,
            start_seconds=view.scene.start_seconds,
            end_seconds=view.scene.end_seconds,
            thumbnail=images.scene(file_id, view.scene.scene_index)
            if view.scene.thumbnail_key
            else None,
            description=view.description,
            visible_text=view.visible_text,
        )
        for view in found
    ]


async def _page_text(
    services: Services, principal: Principal, file_id: str, link: views.LinkFacts
) -> str | None:
    """A saved page's main text once it has been read (one page, as a document's); None
    before, or for a link that is no page (the detail says why)."""
    if link.status != "completed" or link.text_status is None:
        return None
    content = await services.documents.page_content(principal.tenant_id, file_id, 1)
    return content.text if content else None


async def _page_view(
    services: Services,
    principal: Principal,
    file: FileOut,
    document: views.DocumentFacts,
    number: int,
    extractions: Sequence[views.ExtractionView],
) -> PageView:
    """Page `number` of a document as the viewer shows it; 404 past its last page."""
    count = document.page_count or 1
    if number > count:
        raise NotFound(f"the document has {count:,} page{'' if count == 1 else 's'}")
    images = Images(services.image_links, principal)
    shown = views.pages_render(file.variants)
    # The page's own row: the description keeps the regions of a long document's first pages
    # only, and the whole text is not read to show one page.
    content = await services.documents.page_content(principal.tenant_id, file.id, number)
    return PageView(
        number=number,
        count=count,
        image=images.page(file.id, number, views.PAGE_VIEW_SIZE) if shown else None,
        regions=content.regions if content else [],
        sources=views.sources_on(extractions, number),
        text=content.text if content else None,
    )


async def _extractions(
    services: Services, tenant_id: str, file_id: str, *, named: bool
) -> list[views.ExtractionView]:
    """The file's extractions, the latest requested first; `named` looks up their schemas'
    names (only the list shows them)."""
    rows = await services.extractions.results(tenant_id, file_id)
    ids = {row.schema_id for row in rows} if named else set()
    names = {schema_id: await _schema_name(services, tenant_id, schema_id) for schema_id in ids}
    return [views.extraction_view(row, names.get(row.schema_id, row.schema_id)) for row in rows]


async def _schema_name(services: Services, tenant_id: str, schema_id: str) -> str:
    """A stored schema's name; "inline schema" for one given with the request, and the id of
    one deleted since."""
    if schema_id.startswith(INLINE_PREFIX):
        return "inline schema"
    try:
        return (await services.extraction_schemas.get(tenant_id, schema_id)).name
    except NotFound:
        return schema_id
