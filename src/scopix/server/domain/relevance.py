"""How relevant a file is to a query, from its text similarity and its tag bridge score (pure).

e5 similarities of a query to a passage sit in 0.7-0.9 whatever they say, and a short or empty
passage ("An image with the text "80".") sits near every query: it was second for almost every
query of the labeled set (tests/assets/quality). So a file's similarity counts by how far it
beats its own similarities to a fixed set of reference queries about everyday things, in units
of their spread (a z-score, as hubness reduction does): a hub is near those too, so it gains
nothing. A query lists the files within `RELEVANCE_GAP` of its best one (and above
`RELEVANCE_FLOOR`): a z-score says how much a file stands out for the query, not whether it is
what the query names, so the floor follows the best file rather than a fixed level.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = [
    "BRIDGE_WEIGHT",
    "MIN_SPREAD",
    "REFERENCE_QUERIES",
    "RELEVANCE_FLOOR",
    "RELEVANCE_GAP",
    "above_floor",
    "relevance",
    "similarity_profile",
]

Vector = npt.NDArray[np.float32]

#: What a file's similarities are measured against: everyday subjects, in the four languages
#: of the labeled set and more, none of them about one file more than another.
REFERENCE_QUERIES: Final = (
    *("a photo", "an image", "a document", "a person", "an animal", "food", "a vehicle"),
    *("a building", "nature", "a landscape", "a screenshot", "text", "money", "music"),
    *("sports", "a tool", "clothes", "furniture", "a plant", "the sky", "ein Foto", "ein Bild"),
    *("une photo", "una foto", "un documento", "eine Person", "un animal", "Essen"),
    *("une voiture", "un edificio"),
)
#: A lower bound on a file's spread, so a file equally near every reference does not divide by
#: ~0 (measured spreads on the labeled set: 0.017-0.034).
MIN_SPREAD: Final = 0.01
#: How much the tag bridge (0 to about 1) adds to a z-score. On the labeled set (53 queries,
#: 14 files) all-language top-2 was 60 % at weights 1 and 2 and 62 % at 3; 2 is the middle.
BRIDGE_WEIGHT: Final = 2.0
#: How far below the query's best file a listed file may score. On the labeled set, a gap of
#: 0.5 / 0.8 / 1.0 / 1.5 listed 1.9 / 2.4 / 3.0 / 4.7 of 14 files a query on average, at 58 /
#: 60 / 60 / 60 % top-2 (the same as listing every file from 0.8 on); "kitty" and "cat" list
#: the two cat photos at each.
RELEVANCE_GAP: Final = 1.0
#: Below this z-score a file is never listed: it is less like the query than like an average
#: reference query, less one spread. An absolute floor of 0 instead cost 3 points of top-2
#: (57 %) on the labeled set: right files that stand out by the bridge alone sit near 0.
RELEVANCE_FLOOR: Final = -1.0


def similarity_profile(reference_similarities: npt.ArrayLike) -> tuple[Vector, Vector]:
    """Per file (a column each), the mean and the spread (at least `MIN_SPREAD`) of its
    similarities to the reference queries (a row each)."""
    values = np.asarray(reference_similarities, dtype=np.float32)
    means: Vector = values.mean(axis=0, dtype=np.float32)
    spreads: Vector = np.maximum(values.std(axis=0, dtype=np.float32), np.float32(MIN_SPREAD))
    return means, spreads


def relevance(
    similarities: npt.ArrayLike, means: npt.ArrayLike, spreads: npt.ArrayLike, bridge: npt.ArrayLike
) -> Vector:
    """Per file, its similarity's z-score against its own profile plus the weighted bridge."""
    z = (np.asarray(similarities, np.float32) - np.asarray(means, np.float32)) / np.asarray(
        spreads, np.float32
    )
    scores: Vector = z + np.float32(BRIDGE_WEIGHT) * np.asarray(bridge, np.float32)
    return scores


def above_floor(
    ids: Sequence[str],
    scores: npt.ArrayLike,
    gap: float = RELEVANCE_GAP,
    floor: float = RELEVANCE_FLOOR,
) -> list[str]:
    """The ids scoring within `gap` of the best and at least `floor`, best first (ties keep
    the given order)."""
    values = np.asarray(scores, dtype=np.float64)
    if not len(values):
        return []
    least = max(floor, float(values.max()) - gap)
    order = np.argsort(-values, kind="stable")
    return [ids[i] for i in order if values[i] >= least]
