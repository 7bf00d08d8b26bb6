"""Rules for custom extraction schemas: which JSON Schemas a tenant may store, and the shapes
derived from them (leaf fields, an all-null record, the "strict" nullable form, data checks).

A custom extraction schema is a JSON Schema whose root is an object. Everything here is pure; the
uniqueness of a schema's name per tenant is checked by the service, not here.

Decisions (part of the public API contract):

- **Order.** `check_schema` reports the first problem only: size first (the compact JSON
  encoding, UTF-8), then a pre-order walk of the schema in its own key order, so the same schema
  always fails the same way.
- **Root.** The root must be a JSON object whose `type` is `"object"` (or `["object"]`). A root
  with only `anyOf`, or one that is nullable, is refused: the record itself always exists.
- **Depth.** The root is depth 0; each schema under `properties` and each `items` schema is one
  level further; an `anyOf` branch is at the depth of its parent. At most `MAX_DEPTH` (3): a
  leaf at root.a.b.c is fine, a container at depth 3 with children (which would be at depth 4)
  is refused, and the refusal points at the first such child.
- **Nodes.** Every schema object counts: the root, each property schema, each `items` schema and
  each `anyOf` branch. Counting happens while walking, so `anyOf` nested in `anyOf` (which adds
  no depth) is still bounded.
- **Types.** Every node has a `type` or an `anyOf`, never neither (`missing_type`) and never both
  (`invalid_keyword`): a node with both can only hold values that satisfy two shapes at once,
  which the nullable strict form cannot express. A `type` is one of `ALLOWED_TYPES` or a list of
  them, optionally with "null". A bare "null" is accepted only as an `anyOf` branch (the usual
  way to write "or null"); elsewhere it could never hold a value.
- **Structure keywords.** `properties`, `required` and `additionalProperties` only on nodes typed
  object; `items` (one schema, not a list) only on nodes typed array, and an array must have it.
  `required` lists names present in `properties`. `additionalProperties` is a bool only.
  `enum` only on nodes with a `type` naming no object or array: its values are scalars, so
  elsewhere it could never be met.
- **Other keywords.** Only those in `ALLOWED_KEYWORDS`; `$schema` at the root only. Composition
  other than `anyOf` (`$ref`, `$defs`, `allOf`, `oneOf`, `not`, `if`/`then`/`else`,
  `patternProperties`, `dependentSchemas`, …) is `unsupported_keyword`. Keyword values are
  checked for shape: `enum` is a non-empty list of at most `MAX_ENUM_VALUES` JSON scalars,
  `pattern` compiles with Python's `re`, `format` is any string, numeric bounds are numbers,
  length and count bounds are non-negative integers, `examples` is a list.
- **Property names.** Non-empty strings of at most `MAX_PROPERTY_NAME_CHARS` characters, without
  ".": field paths are dotted ("vendor.name"), and a dot inside a name would make them ambiguous.
- **Text fields.** `check_name` strips and returns the name; `check_description` and
  `check_prompt_hint` count characters of the text as given and return it unchanged.
- **Objects in derived shapes.** `leaf_fields` and `empty_data` follow an object node's own
  `properties`; for an `anyOf` node, the first branch (depth first) that is an object. A node whose
  types include "object" is treated as an object, else one including "array" as an array, else it
  is a scalar leaf.
- **Nullable form.** `nullable` makes every node below the root accept null (an `enum` gains
  null too, or a missing value could never pass it) and closes every object; the root stays a
  plain object, as strict structured outputs require. `validate_data` checks against that form,
  so an all-null record (`empty_data`) is always valid.

Every refusal is a `SchemaRuleBroken` carrying a stable `rule` code, a JSON Pointer `path` into the
schema ("" for the root or for the text fields) and a one-sentence `message`.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final, NoReturn

MAX_NAME_CHARS: Final = 255
MAX_DESCRIPTION_CHARS: Final = 1000
MAX_PROMPT_HINT_CHARS: Final = 2000
MAX_DEPTH: Final = 3
MAX_PROPERTIES: Final = 50
MAX_NODES: Final = 200
MAX_SCHEMA_BYTES: Final = 32 * 1024
MAX_ENUM_VALUES: Final = 100
MAX_PROPERTY_NAME_CHARS: Final = 100
MAX_DATA_ERRORS: Final = 20

ALLOWED_TYPES: Final = ("string", "integer", "number", "boolean", "array", "object")
_CONTAINER_TYPES: Final = frozenset({"object", "array"})
_OBJECT_ONLY: Final = ("properties", "required", "additionalProperties")
_NUMBER_KEYWORDS: Final = ("minimum", "maximum")
_COUNT_KEYWORDS: Final = ("minLength", "maxLength", "minItems", "maxItems")
_TEXT_KEYWORDS: Final = ("description", "title", "format")
# fmt: off
ALLOWED_KEYWORDS: Final = frozenset({
    "type", "properties", "required", "items", "anyOf", "enum", "pattern",
    "additionalProperties", "default", "examples", "$schema",
    *_TEXT_KEYWORDS, *_NUMBER_KEYWORDS, *_COUNT_KEYWORDS,
})
# Named in refusals so the user learns why a familiar keyword is turned away.
_COMPOSITION_KEYWORDS: Final = frozenset({
    "$ref", "$defs", "definitions", "allOf", "oneOf", "not", "if", "then", "else",
    "patternProperties", "dependentSchemas", "dependentRequired", "dependencies", "prefixItems",
    "unevaluatedProperties", "unevaluatedItems", "$dynamicRef", "$anchor", "$id",
})
# fmt: on

Schema = Mapping[str, Any]


class SchemaRuleBroken(ValueError):
    """A custom extraction schema, or one of its text fields, breaks a documented rule.

    `rule` is a stable snake_case code, `path` a JSON Pointer into the schema ("" for the root
    and for the text fields), `message` one plain sentence naming the rule and its limit.
    """

    def __init__(self, rule: str, path: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.path = path
        self.message = message


@dataclass(frozen=True)
class FieldSpec:
    """One scalar leaf of a schema, as the on-device extractor fills it.

    `types` holds the leaf's JSON types ("null" included when declared); for an array of scalars
    it is ("array",) and `item_types` holds the items' types.
    """

    path: str
    types: tuple[str, ...]
    description: str
    format: str | None
    enum: tuple[object, ...] | None
    name: str
    item_types: tuple[str, ...] = ()


# ---- text fields -------------------------------------------------------------------------------


def check_name(name: str) -> str:
    """Return the stripped name, or refuse one that is empty or longer than MAX_NAME_CHARS."""
    stripped = name.strip()
    if not 1 <= len(stripped) <= MAX_NAME_CHARS:
        raise SchemaRuleBroken(
            "name_length",
            "",
            f"the name has {len(stripped)} characters; it needs 1 to {MAX_NAME_CHARS}",
        )
    return stripped


def check_description(text: str | None) -> str | None:
    """Return the description unchanged, or refuse one longer than MAX_DESCRIPTION_CHARS."""
    return _check_text(text, "description", MAX_DESCRIPTION_CHARS)


def check_prompt_hint(text: str | None) -> str | None:
    """Return the prompt hint unchanged, or refuse one longer than MAX_PROMPT_HINT_CHARS."""
    return _check_text(text, "prompt_hint", MAX_PROMPT_HINT_CHARS)


def _check_text(text: str | None, field: str, limit: int) -> str | None:
    if text is not None and len(text) > limit:
        raise SchemaRuleBroken(
            f"{field}_length",
            "",
            f"the {field.replace('_', ' ')} has {len(text):,} characters; "
            f"at most {limit:,} are allowed",
        )
    return text


# ---- the schema check --------------------------------------------------------------------------


def check_schema(schema: object) -> None:
    """Refuse a schema that breaks any rule, naming the first problem (size first, then a walk)."""
    _check_size(schema)
    _check_root(schema)
    _Walk().node(schema, "", 0)


def _check_size(schema: object) -> None:
    try:
        encoded = json.dumps(schema, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        size = len(encoded.encode("utf-8"))
    except RecursionError:
        # Only a value nested far past any allowed depth exhausts the encoder's stack.
        raise SchemaRuleBroken(
            "too_deep", "", f"the schema nests far too deep; at most {MAX_DEPTH} are allowed"
        ) from None
    except (TypeError, ValueError):  # UnicodeEncodeError (a lone surrogate) is a ValueError
        raise SchemaRuleBroken(
            "invalid_keyword", "", "the schema must be plain JSON: no NaN, no lone surrogates"
        ) from None
    if size > MAX_SCHEMA_BYTES:
        raise SchemaRuleBroken(
            "too_large",
            "",
            f"the schema is {size:,} bytes of JSON; at most {MAX_SCHEMA_BYTES:,} are allowed",
        )


def _check_root(schema: object) -> None:
    if not isinstance(schema, dict) or schema.get("type") not in ("object", ["object"]):
        raise SchemaRuleBroken(
            "root_not_object", "", 'the schema\'s root must have "type": "object"'
        )


class _Walk:
    """One pre-order pass over the schema; holds the running node count."""

    def __init__(self) -> None:
        self.nodes = 0

    def node(self, node: object, path: str, depth: int, branch: bool = False) -> None:
        self._count(path)
        if not isinstance(node, dict):
            raise SchemaRuleBroken("invalid_keyword", path, f"{_where(path)} must be a JSON object")
        _check_keywords(node, path)
        types = _check_type(node, path, branch)
        _check_structure(node, path, types)
        _check_values(node, path)
        self._children(node, path, depth)

    def _count(self, path: str) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise SchemaRuleBroken(
                "too_many_nodes",
                path,
                f"the schema has more than {MAX_NODES} nodes; at most {MAX_NODES} are allowed",
            )

    def _children(self, node: dict[str, Any], path: str, depth: int) -> None:
        for name, child in node.get("properties", {}).items():
            self._nested(child, f"{path}/properties/{_escape(name)}", depth + 1)
        if "items" in node:
            self._nested(node["items"], f"{path}/items", depth + 1)
        for index, branch in enumerate(node.get("anyOf", [])):
            self.node(branch, f"{path}/anyOf/{index}", depth, branch=True)

    def _nested(self, child: object, path: str, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise SchemaRuleBroken(
                "too_deep",
                path,
                f"the schema nests {depth} levels deep; at most {MAX_DEPTH} are allowed",
            )
        self.node(child, path, depth)


def _check_keywords(node: dict[str, Any], path: str) -> None:
    for key in node:
        if key in ALLOWED_KEYWORDS and (key != "$schema" or path == ""):
            continue
        if key == "$schema":
            reason = "it is allowed at the root only"
        elif key in _COMPOSITION_KEYWORDS:
            reason = "anyOf is the only composition allowed"
        else:
            reason = "see the documented list of allowed keywords"
        raise SchemaRuleBroken(
            "unsupported_keyword",
            path,
            f"the keyword {str(key)!r} is not supported at {_where(path)}; {reason}",
        )


def _check_type(node: dict[str, Any], path: str, branch: bool) -> tuple[str, ...]:
    """Return the node's declared types (empty for an anyOf node).

    A bare "null" is accepted only as an anyOf branch, the usual way to write "or null".
    """
    if "type" not in node:
        if "anyOf" not in node:
            raise SchemaRuleBroken(
                "missing_type", path, f'{_where(path)} needs a "type" or an "anyOf"'
            )
        return ()
    if "anyOf" in node:
        raise SchemaRuleBroken(
            "invalid_keyword", path, f'{_where(path)} may have "type" or "anyOf", not both'
        )
    declared = node["type"]
    types = [declared] if isinstance(declared, str) else declared
    if not isinstance(types, list) or not types or len(set(map(repr, types))) != len(types):
        raise SchemaRuleBroken(
            "invalid_keyword",
            path,
            f'the "type" at {_where(path)} must be a type name or a list of distinct names',
        )
    for name in types:
        if name not in ALLOWED_TYPES and name != "null":
            raise SchemaRuleBroken(
                "unsupported_type",
                path,
                f"the type {name!r} is not supported; use {', '.join(ALLOWED_TYPES)} or null",
            )
    if types == ["null"] and not branch:
        raise SchemaRuleBroken(
            "unsupported_type", path, f'{_where(path)} needs a type other than "null"'
        )
    return tuple(types)


def _check_structure(node: dict[str, Any], path: str, types: tuple[str, ...]) -> None:
    for key in _OBJECT_ONLY:
        if key in node and "object" not in types:
            _invalid(path, key, "is allowed on object schemas only")
    if "items" in node and "array" not in types:
        _invalid(path, "items", "is allowed on array schemas only")
    if "enum" in node and (not types or _CONTAINER_TYPES & set(types)):
        # An enum holds scalars only, so on an object or array it could never be met.
        _invalid(path, "enum", "is allowed on typed scalar schemas only")
    if "array" in types and "items" not in node:
        raise SchemaRuleBroken(
            "invalid_keyword", path, f'the array at {_where(path)} needs an "items" schema'
        )
    if "items" in node and not isinstance(node["items"], dict):
        _invalid(path, "items", "must be a single schema (a JSON object)")
    if "anyOf" in node and (not isinstance(node["anyOf"], list) or not node["anyOf"]):
        _invalid(path, "anyOf", "must be a non-empty list of schemas")
    if "properties" in node:
        _check_properties(node["properties"], path)
    if "required" in node:
        _check_required(node["required"], node.get("properties", {}), path)
    if "additionalProperties" in node and not isinstance(node["additionalProperties"], bool):
        _invalid(path, "additionalProperties", "must be true or false")


def _check_properties(properties: object, path: str) -> None:
    if not isinstance(properties, dict):
        _invalid(path, "properties", "must be a JSON object")
    if len(properties) > MAX_PROPERTIES:
        raise SchemaRuleBroken(
            "too_many_properties",
            f"{path}/properties",
            f"the object at {_where(path)} has {len(properties)} properties; "
            f"at most {MAX_PROPERTIES} are allowed",
        )
    for name in properties:
        if (
            not isinstance(name, str)
            or not 1 <= len(name) <= MAX_PROPERTY_NAME_CHARS
            or "." in name
        ):
            where = f"{path}/properties" + (f"/{_escape(name)}" if isinstance(name, str) else "")
            raise SchemaRuleBroken(
                "bad_property_name",
                where,
                f"the property name {str(name)[:40]!r} must have 1 to {MAX_PROPERTY_NAME_CHARS} "
                'characters and no "."',
            )


def _check_required(required: object, properties: dict[str, Any], path: str) -> None:
    if (
        not isinstance(required, list)
        or len(set(map(repr, required))) != len(required)
        or any(not isinstance(name, str) or name not in properties for name in required)
    ):
        _invalid(path, "required", "must list distinct names found in properties")


def _check_values(node: dict[str, Any], path: str) -> None:
    if "enum" in node:
        _check_enum(node["enum"], path)
    for key in _TEXT_KEYWORDS:
        if key in node and not isinstance(node[key], str):
            _invalid(path, key, "must be a string")
    if "pattern" in node:
        _check_pattern(node["pattern"], path)
    for key in _NUMBER_KEYWORDS:
        if key in node and not _is_number(node[key]):
            _invalid(path, key, "must be a number")
    for key in _COUNT_KEYWORDS:
        value = node.get(key, 0)
        if not (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
            _invalid(path, key, "must be a non-negative integer")
    if "examples" in node and not isinstance(node["examples"], list):
        _invalid(path, "examples", "must be a list")
    if "$schema" in node and not isinstance(node["$schema"], str):
        _invalid(path, "$schema", "must be a string")


def _check_enum(values: object, path: str) -> None:
    if not isinstance(values, list) or not 1 <= len(values) <= MAX_ENUM_VALUES:
        _invalid(path, "enum", f"must be a list of 1 to {MAX_ENUM_VALUES} values")
    if not all(
        value is None or isinstance(value, str | bool) or _is_number(value) for value in values
    ):
        _invalid(path, "enum", "must hold strings, numbers, booleans or null only")


def _check_pattern(pattern: object, path: str) -> None:
    if not isinstance(pattern, str):
        _invalid(path, "pattern", "must be a string")
    try:
        re.compile(pattern)
    except (re.error, RecursionError, OverflowError, ValueError):
        _invalid(path, "pattern", "must be a valid regular expression")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _invalid(path: str, key: str, reason: str) -> NoReturn:
    raise SchemaRuleBroken("invalid_keyword", path, f'"{key}" at {_where(path)} {reason}')


def _where(path: str) -> str:
    return path or "the root"


def _escape(name: str) -> str:
    """One JSON Pointer segment (RFC 6901)."""
    return name.replace("~", "~0").replace("/", "~1")


# ---- shapes derived from a checked schema ------------------------------------------------------


def leaf_fields(schema: Schema) -> list[FieldSpec]:
    """Every scalar leaf reachable through `properties`, in declaration order.

    Arrays of scalars are one leaf. Arrays of objects (or of arrays) are skipped: the on-device
    extractor fills one value per field and cannot tell one row of a table from the next, so such
    fields are left to the remote model.
    """
    return list(_leaves(schema, ""))


def _leaves(node: Schema, prefix: str) -> Iterator[FieldSpec]:
    for name, child in _object_shape(node).items():
        path = f"{prefix}{name}"
        types = _merged_types(child)
        if "object" in types:
            yield from _leaves(child, f"{path}.")
        elif "array" in types:
            items = _array_items(child)
            item_types = _merged_types(items)
            if not _CONTAINER_TYPES & set(item_types):
                yield _field(path, ("array",), child, items, item_types)
        else:
            yield _field(path, types, child, child, ())


def _field(
    path: str, types: tuple[str, ...], node: Schema, values: Schema, item_types: tuple[str, ...]
) -> FieldSpec:
    """`node` gives the description; `values` (the items, for an array) gives format and enum."""
    enum = _first(values, "enum")
    return FieldSpec(
        path=path,
        types=types,
        description=_first(node, "description") or _first(values, "description") or "",
        format=_first(values, "format"),
        enum=tuple(enum) if enum is not None else None,
        name=path.rsplit(".", 1)[-1],
        item_types=item_types,
    )


def _variants(node: Schema) -> Iterator[Schema]:
    """The node and its anyOf branches, depth first."""
    yield node
    for branch in node.get("anyOf", []):
        yield from _variants(branch)


def _merged_types(node: Schema) -> tuple[str, ...]:
    # dict.fromkeys keeps declaration order and drops repeats.
    return tuple(dict.fromkeys(name for variant in _variants(node) for name in _declared(variant)))


def _declared(node: Schema) -> list[str]:
    declared = node.get("type", [])
    return [declared] if isinstance(declared, str) else list(declared)


def _first(node: Schema, key: str) -> Any:
    return next((v[key] for v in _variants(node) if key in v), None)


def _object_shape(node: Schema) -> dict[str, Any]:
    """The properties of the node's first object variant."""
    for variant in _variants(node):
        if "object" in _declared(variant):
            return dict(variant.get("properties", {}))
    return {}


def _array_items(node: Schema) -> Schema:
    return next((v["items"] for v in _variants(node) if "items" in v), {})


def empty_data(schema: Schema) -> dict[str, object]:
    """The schema's object shape with every leaf None; nested objects are dicts, arrays None."""
    return {
        name: empty_data(child) if "object" in _merged_types(child) else None
        for name, child in _object_shape(schema).items()
    }


def set_path(data: dict[str, Any], path: str, value: object) -> None:
    """Set the dotted `path` ("vendor.name") in `data`, creating missing or null objects."""
    *parents, last = path.split(".")
    if not all([*parents, last]):
        raise ValueError(f"not a field path: {path!r}")
    target = data
    for name in parents:
        child = target.get(name)
        if child is None:
            child = target[name] = {}
        if not isinstance(child, dict):
            raise ValueError(f"{name!r} in {path!r} is not an object")
        target = child
    target[last] = value


def nullable(schema: Schema) -> dict[str, Any]:
    """A deep copy in which every node below the root also accepts null, and every object is
    closed (`additionalProperties: false`) and complete (`required` lists all its properties).

    This is the shape OpenAI "strict" structured outputs require; a value the model cannot find
    comes back as null. The root stays `"type": "object"`: strict mode refuses any other root,
    and the record itself always exists.
    """
    copied: dict[str, Any] = copy.deepcopy(dict(schema))
    _make_nullable(copied)
    copied["type"] = "object"
    return copied


def _make_nullable(node: dict[str, Any]) -> None:
    if "type" in node:
        types = _declared(node)
        if "null" not in types:
            node["type"] = [*types, "null"]
    if "anyOf" in node and {"type": "null"} not in node["anyOf"]:
        node["anyOf"].append({"type": "null"})
    if "enum" in node and None not in node["enum"]:
        node["enum"].append(None)  # a null value must pass the enum too
    if "object" in node.get("type", []):
        node["additionalProperties"] = False
        node["required"] = list(node.get("properties", {}))
    for child in _children(node):
        _make_nullable(child)


def _children(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from node.get("properties", {}).values()
    if "items" in node:
        yield node["items"]
    yield from node.get("anyOf", [])


def validate_data(schema: Schema, data: object) -> list[str]:
    """Check `data` against `nullable(schema)`; up to MAX_DATA_ERRORS readable errors, by path.

    `schema` must have passed `check_schema`.
    """
    # Imported here: jsonschema is needed only when extracted data is checked.
    from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

    validator = Draft202012Validator(nullable(schema))
    errors = sorted(
        validator.iter_errors(data),
        key=lambda error: ([str(part) for part in error.absolute_path], error.message),
    )
    return [
        f"{_data_path(list(error.absolute_path))}: {error.message}"
        for error in errors[:MAX_DATA_ERRORS]
    ]


def _data_path(parts: list[str | int]) -> str:
    """Render a data path as vendor.name or line_items[0].qty; "(root)" for the record."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text.lstrip(".") or "(root)"
