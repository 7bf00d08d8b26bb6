"""``UNSET``: the default of an argument whose None has a meaning of its own (it clears a
field), so that leaving the argument out can mean "leave the field as it is"."""

from __future__ import annotations


class _Unset:
    """Marks an argument that was not given (None has a meaning of its own)."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET = _Unset()
