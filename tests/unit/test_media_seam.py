"""The media seam: one handler per kind, found by kind or stored MIME type, and no code outside
`server/media` (and the sniffer that names the kinds) deciding anything by a file's kind."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pytest

from scopix.server.domain.media import ACCEPTED, MediaKind, media_of_mime
from scopix.server.media import MediaHandlers
from scopix.server.media.base import MediaHandler

SERVER = Path(__file__).parents[2] / "src" / "scopix" / "server"
KINDS = {"image", "document", "video", "link"}
#: The only modules that may name a kind in a decision: the handlers and the sniffer.
SEAM = ("media/", "domain/media.py")


def _kind_decisions(source: str) -> list[str]:
    """Comparisons and `match` cases against a kind's name: `x == "image"`, `x in ("video",)`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            for o in operands:
                if isinstance(o, ast.Tuple | ast.List | ast.Set):
                    operands += o.elts
            if any(_names_a_kind(o) for o in operands):
                found.append(f"line {node.lineno}: {ast.unparse(node)}")
        elif isinstance(node, ast.MatchValue) and _names_a_kind(node.value):
            found.append(f"line {node.lineno}: case {ast.unparse(node.value)}")
    return found


def _names_a_kind(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value in KINDS


def test_the_rule_finds_a_kind_branch() -> None:
    assert _kind_decisions('if file.media_type == "image":\n    pass\n')
    assert _kind_decisions('ok = kind in ("video", "link")\n')
    assert _kind_decisions('match kind:\n    case "document":\n        pass\n')
    assert not _kind_decisions('tags = ("document", "pdf")\nif name == "pdf":\n    pass\n')


def test_nothing_outside_the_seam_branches_on_a_files_kind() -> None:
    offenders = {}
    for path in sorted(SERVER.rglob("*.py")):
        relative = path.relative_to(SERVER).as_posix()
        if relative.startswith(SEAM):
            continue
        if found := _kind_decisions(path.read_text(encoding="utf-8")):
            offenders[relative] = found
    assert not offenders, f"ask the file's media handler instead: {offenders}"


@dataclass(frozen=True)
class Named:
    """All the registry reads of a handler: its kind."""

    kind: MediaKind


def registry(*handlers: Named) -> MediaHandlers:
    return MediaHandlers(cast(list[MediaHandler], list(handlers)))


def test_handlers_are_found_by_kind_and_by_stored_mime_type() -> None:
    video, document = Named("video"), Named("document")
    handlers = registry(video, document)
    assert handlers.handler_for("video") is video
    assert handlers.for_mime("video/webm") is video
    assert handlers.for_mime("application/pdf") is document
    assert handlers.of(media_of_mime("text/markdown")) is document
    assert handlers.handlers == (video, document)
    with pytest.raises(LookupError, match="image"):
        handlers.handler_for("image")


def test_one_handler_per_kind() -> None:
    with pytest.raises(ValueError, match="two handlers for video"):
        registry(Named("video"), Named("video"))


def test_every_accepted_type_has_a_kind_a_handler_can_serve() -> None:
    kinds: set[MediaKind] = {media_of_mime(mime).kind for mime in ACCEPTED}
    handlers = registry(*(Named(kind) for kind in kinds))
    assert {handlers.for_mime(mime).kind for mime in ACCEPTED} == kinds
