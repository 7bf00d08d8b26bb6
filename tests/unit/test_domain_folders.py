"""The folder tree's rules on paths: breadcrumbs, cycles and the depth limit."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scopix.server.domain.errors import ValidationFailed
from scopix.server.domain.folders import (
    MAX_FOLDER_LEVELS,
    ancestor_ids,
    check_depth,
    check_move,
    child_path,
    siblings_key,
)

ids = st.text(alphabet="0123456789abcdef-", min_size=1, max_size=8)


def path_of(chain: list[str]) -> str:
    path = None
    for folder_id in chain:
        path = child_path(path, folder_id)
    assert path is not None
    return path


@given(st.lists(ids, min_size=1, max_size=MAX_FOLDER_LEVELS, unique=True))
def test_a_path_lists_its_ancestors_top_first(chain: list[str]) -> None:
    assert ancestor_ids(path_of(chain)) == chain


@given(
    st.lists(ids, min_size=1, max_size=8, unique=True),
    st.lists(ids, min_size=0, max_size=8, unique=True),
    st.integers(min_value=0, max_value=3),
)
def test_a_move_is_refused_exactly_into_its_own_subtree(
    chain: list[str], other: list[str], height: int
) -> None:
    """`chain` ends with the folder that moves; its subtree is every path that extends it."""
    folder = path_of(chain)
    # Ids that only share a prefix with the folder's ("ab" beside "a") are not below it.
    sibling = path_of([*chain[:-1], chain[-1] + "x"])
    inside = path_of([*chain, *other]) if other else folder
    with pytest.raises(ValidationFailed) as refused:
        check_move(folder, inside, height)
    assert refused.value.details["reason"] == "cycle"
    depth = check_move(folder, sibling, height)
    assert depth == len(chain)


def test_the_depth_limit_counts_the_subtree_below_the_folder() -> None:
    parent = path_of([str(i) for i in range(MAX_FOLDER_LEVELS - 2)])
    assert check_move("x", parent, 1) == MAX_FOLDER_LEVELS - 2
    with pytest.raises(ValidationFailed) as refused:
        check_move("x", parent, 2)
    assert refused.value.details["reason"] == "too_deep"
    assert check_move("x", None, MAX_FOLDER_LEVELS - 1) == 0
    check_depth(MAX_FOLDER_LEVELS - 1)
    with pytest.raises(ValidationFailed):
        check_depth(MAX_FOLDER_LEVELS)


def test_siblings_share_a_parent_or_a_projects_top_level() -> None:
    assert siblings_key("p", "proj") == "p"
    assert siblings_key(None, "proj") == "top:proj"
    assert siblings_key(None, None) == "top:"
    assert siblings_key(None, "a") != siblings_key(None, None)
