"""Which scene of a video a search matched: the one whose description and visible text hold
the most of the query's words (pure).

The full-text index finds the video by its summary, which unites its scenes' words; this rule
then points at the scene those words came from. Words are compared folded (as the index
holds them) and with the common English endings taken off, close to the index's stemming:
"harbours" finds a scene that says "harbour"."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from scopix.server.domain.listing import search_words

__all__ = ["SceneMatch", "SceneText", "matched_scene", "word_root"]

#: Endings taken off a word before comparing, longest first; a root keeps 3 letters at least.
_ENDINGS = ("ing", "es", "ed", "s")
_SHORTEST_ROOT = 3


@dataclass(frozen=True)
class SceneText:
    """What one scene says: its times and its description and visible text (None until the
    video is described)."""

    scene_index: int
    start_seconds: float
    end_seconds: float
    description: str | None
    visible_text: str | None


@dataclass(frozen=True)
class SceneMatch:
    """The scene a search matched, and its times."""

    scene_index: int
    start_seconds: float
    end_seconds: float


def word_root(word: str) -> str:
    """A folded word without its common English endings ("harbours" -> "harbour",
    "moorings" and "mooring" -> "moor")."""
    for ending in _ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= _SHORTEST_ROOT:
            return word_root(word[: -len(ending)])
    return word


def matched_scene(query: str, scenes: Iterable[SceneText]) -> SceneMatch | None:
    """The scene whose words hold the most of `query`'s (the earliest of equals); None when
    no scene holds any."""
    wanted = _roots(search_words(query))
    best: SceneText | None = None
    best_count = 0
    for scene in scenes:
        said = " ".join(t for t in (scene.description, scene.visible_text) if t)
        count = len(wanted & _roots(search_words(said)))
        if count > best_count:
            best, best_count = scene, count
    if best is None:
        return None
    return SceneMatch(best.scene_index, best.start_seconds, best.end_seconds)


def _roots(words: Sequence[str]) -> set[str]:
    return {word_root(word) for word in words}
