"""Custom extraction schemas: every rule refuses with its code and JSON Pointer, realistic schemas
pass, and the derived shapes (leaf fields, empty record, nullable form) agree with each other."""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scopix.server.domain.extraction_schemas import (
    MAX_DEPTH,
    MAX_NODES,
    MAX_SCHEMA_BYTES,
    FieldSpec,
    SchemaRuleBroken,
    check_description,
    check_name,
    check_prompt_hint,
    check_schema,
    empty_data,
    leaf_fields,
    nullable,
    set_path,
    validate_data,
)

INVOICE: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Invoice",
    "type": "object",
    "properties": {
        "invoice_number": {"type": "string", "description": "As printed, e.g. INV-0042"},
        "date": {"type": "string", "format": "date"},
        "total": {"type": "number", "minimum": 0},
        "email": {"type": "string", "format": "email"},
        "currency": {"type": "string", "enum": ["EUR", "USD", "GBP"]},
        "vendor": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "vat_id": {"anyOf": [{"type": "string", "pattern": "^[A-Z]{2}"}, {"type": "null"}]},
            },
            "required": ["name"],
        },
        "line_items": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "description": {"type": "string"},
                    "quantity": {"type": "integer", "minimum": 1},
                    "amount": {"type": "number"},
                },
            },
        },
    },
    "required": ["invoice_number", "total"],
}

NAMEPLATE: dict[str, Any] = {
    "type": "object",
    "description": "The rating plate of an electric motor",
    "properties": {
        "manufacturer": {"type": "string"},
        "model": {"type": "string", "maxLength": 64},
        "serial_number": {"type": ["string", "null"]},
        "rated_power_kw": {"type": "number"},
        "voltage_v": {"anyOf": [{"type": "integer"}, {"type": "number"}]},
        "phases": {"type": "integer", "enum": [1, 3]},
        "ip_rating": {"type": "string", "pattern": r"^IP\d{2}$"},
        "certifications": {"type": "array", "items": {"type": "string"}, "maxItems": 10},
        "year": {"type": "integer", "minimum": 1900, "maximum": 2100},
        "explosion_proof": {"type": "boolean"},
    },
    "additionalProperties": False,
}


def _object(**properties: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties}


def _refusal(schema: object) -> SchemaRuleBroken:
    with pytest.raises(SchemaRuleBroken) as caught:
        check_schema(schema)
    return caught.value


# ---- acceptance ---------------------------------------------------------------------------------


@pytest.mark.parametrize("schema", [INVOICE, NAMEPLATE], ids=["invoice", "nameplate"])
def test_realistic_schemas_pass_and_their_empty_record_is_valid(schema: dict[str, Any]) -> None:
    check_schema(schema)
    check_schema(nullable(schema))
    assert validate_data(schema, empty_data(schema)) == []


def test_a_leaf_at_the_deepest_level_passes() -> None:
    check_schema(_object(a=_object(b=_object(c={"type": "string"}))))
    check_schema(_object(a=_object(b={"type": "array", "items": {"type": "string"}})))


# ---- one test per rule --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "schema",
    [
        [],
        "object",
        {"type": "array", "items": {"type": "string"}},
        {"type": ["object", "null"]},
        {"anyOf": [_object()]},
        {"properties": {}},
    ],
)
def test_root_not_object(schema: object) -> None:
    refusal = _refusal(schema)
    assert (refusal.rule, refusal.path) == ("root_not_object", "")


def test_too_deep_names_the_first_child_past_the_limit() -> None:
    schema = _object(a=_object(b=_object(c=_object(d={"type": "string"}))))
    refusal = _refusal(schema)
    assert (refusal.rule, refusal.path) == (
        "too_deep",
        "/properties/a/properties/b/properties/c/properties/d",
    )
    assert refusal.message == "the schema nests 4 levels deep; at most 3 are allowed"


def test_too_deep_counts_array_items_as_a_level() -> None:
    schema = _object(a=_object(b=_object(c={"type": "array", "items": {"type": "string"}})))
    refusal = _refusal(schema)
    assert (refusal.rule, refusal.path) == (
        "too_deep",
        "/properties/a/properties/b/properties/c/items",
    )


def test_anyof_branches_add_no_depth() -> None:
    check_schema(_object(a=_object(b={"anyOf": [_object(c={"type": "string"}), {"type": "null"}]})))


def test_too_many_properties() -> None:
    schema = _object(v=_object(**{f"p{i}": {"type": "string"} for i in range(51)}))
    refusal = _refusal(schema)
    assert (refusal.rule, refusal.path) == ("too_many_properties", "/properties/v/properties")
    assert "at most 50" in refusal.message
    check_schema(_object(**{f"p{i}": {"type": "string"} for i in range(50)}))


def test_too_many_nodes_names_the_first_node_over_the_limit() -> None:
    # root (1) + a (2) + branches from the 3rd node: branch 198 is node 201.
    schema = _object(a={"anyOf": [{"type": "string"}] * 250})
    refusal = _refusal(schema)
    assert (refusal.rule, refusal.path) == ("too_many_nodes", "/properties/a/anyOf/198")
    assert "at most 200" in refusal.message
    check_schema(_object(a={"anyOf": [{"type": "string"}] * 198}))


def test_too_large_is_checked_before_anything_else() -> None:
    schema = {"$ref": "#/x", "description": "é" * (MAX_SCHEMA_BYTES // 2)}  # 2 bytes per é
    refusal = _refusal(schema)
    assert (refusal.rule, refusal.path) == ("too_large", "")
    assert "at most 32,768" in refusal.message


def test_too_large_counts_compact_utf8_bytes() -> None:
    schema = {"type": "object", "description": ""}
    overhead = len(json.dumps(schema, separators=(",", ":")))
    schema["description"] = "x" * (MAX_SCHEMA_BYTES - overhead)
    check_schema(schema)
    schema["description"] += "x"
    assert _refusal(schema).rule == "too_large"


@pytest.mark.parametrize(
    ("prop", "path"),
    [
        ({"type": "date"}, "/properties/a"),
        ({"type": "null"}, "/properties/a"),
        ({"type": ["string", "tuple"]}, "/properties/a"),
        ({"anyOf": [{"type": "string"}, {"type": "file"}]}, "/properties/a/anyOf/1"),
    ],
)
def test_unsupported_type(prop: dict[str, Any], path: str) -> None:
    refusal = _refusal(_object(a=prop))
    assert (refusal.rule, refusal.path) == ("unsupported_type", path)


FORBIDDEN = [
    "$ref",
    "$defs",
    "definitions",
    "allOf",
    "oneOf",
    "not",
    "if",
    "then",
    "else",
    "patternProperties",
    "dependentSchemas",
    "const",
    "propertyNames",
    "x-custom",
]


@pytest.mark.parametrize("keyword", FORBIDDEN)
def test_unsupported_keyword(keyword: str) -> None:
    refusal = _refusal(_object(a={"type": "string", keyword: {}}))
    assert (refusal.rule, refusal.path) == ("unsupported_keyword", "/properties/a")
    assert repr(keyword) in refusal.message


def test_schema_dialect_is_allowed_at_the_root_only() -> None:
    refusal = _refusal(_object(a={"type": "string", "$schema": "x"}))
    assert (refusal.rule, refusal.path) == ("unsupported_keyword", "/properties/a")


def test_missing_type() -> None:
    refusal = _refusal(_object(a=_object(b={"description": "untyped"})))
    assert (refusal.rule, refusal.path) == ("missing_type", "/properties/a/properties/b")


@pytest.mark.parametrize(
    ("prop", "path"),
    [
        ("string", "/properties/a"),
        ({"type": "array"}, "/properties/a"),
        ({"type": "array", "items": [{"type": "string"}]}, "/properties/a"),
        ({"type": "string", "items": {"type": "string"}}, "/properties/a"),
        ({"type": "string", "properties": {}}, "/properties/a"),
        ({"anyOf": [{"type": "string"}], "properties": {}}, "/properties/a"),
        ({"type": "string", "anyOf": [{"type": "string"}]}, "/properties/a"),
        ({"anyOf": []}, "/properties/a"),
        ({"type": []}, "/properties/a"),
        ({"type": ["string", "string"]}, "/properties/a"),
        ({"type": "object", "properties": [], "required": []}, "/properties/a"),
        (
            {"type": "object", "properties": {"b": {"type": "string"}}, "required": ["c"]},
            "/properties/a",
        ),
        ({"type": "object", "additionalProperties": {"type": "string"}}, "/properties/a"),
        ({"type": "string", "enum": []}, "/properties/a"),
        ({"type": "string", "enum": [str(i) for i in range(101)]}, "/properties/a"),
        ({"type": "string", "enum": [{"a": 1}]}, "/properties/a"),
        ({"type": "object", "enum": [None]}, "/properties/a"),
        ({"anyOf": [{"type": "string"}], "enum": ["x"]}, "/properties/a"),
        ({"type": "string", "pattern": "(unclosed"}, "/properties/a"),
        ({"type": "string", "format": 5}, "/properties/a"),
        ({"type": "string", "minLength": -1}, "/properties/a"),
        ({"type": "string", "maxLength": True}, "/properties/a"),
        ({"type": "number", "minimum": "0"}, "/properties/a"),
        ({"type": "number", "examples": 3}, "/properties/a"),
        (
            {"type": "array", "items": {"type": "string", "description": None}},
            "/properties/a/items",
        ),
        ({"type": "number", "default": float("nan")}, ""),
        ({"type": "string", "description": "\ud800"}, ""),
        ({"type": "string", "default": {"a set", "is not JSON"}}, ""),
    ],
)
def test_invalid_keyword(prop: object, path: str) -> None:
    refusal = _refusal(_object(a=prop))
    assert (refusal.rule, refusal.path) == ("invalid_keyword", path)


def test_enum_of_a_hundred_scalars_passes() -> None:
    check_schema(_object(a={"type": ["string", "integer"], "enum": [*map(str, range(99)), 1]}))


@pytest.mark.parametrize(
    ("name", "path"),
    [("", "/properties/"), ("x" * 101, "/properties/" + "x" * 101), ("a.b", "/properties/a.b")],
)
def test_bad_property_name(name: str, path: str) -> None:
    refusal = _refusal({"type": "object", "properties": {name: {"type": "string"}}})
    assert (refusal.rule, refusal.path) == ("bad_property_name", path)


def test_a_property_name_that_is_not_a_string_is_refused() -> None:
    refusal = _refusal({"type": "object", "properties": {1: {"type": "string"}}})
    assert (refusal.rule, refusal.path) == ("bad_property_name", "/properties")


def test_nesting_that_exhausts_the_encoder_is_too_deep() -> None:
    value: list[Any] = []
    for _ in range(10_000):
        value = [value]
    refusal = _refusal(value)
    assert (refusal.rule, refusal.path) == ("too_deep", "")


def test_paths_escape_slash_and_tilde_as_json_pointer() -> None:
    refusal = _refusal(_object(**{"a/b~c": {}}))
    assert (refusal.rule, refusal.path) == ("missing_type", "/properties/a~1b~0c")


def test_the_first_problem_in_declaration_order_wins() -> None:
    schema = _object(a={"type": "date"}, b={"$ref": "#"})
    assert _refusal(schema).path == "/properties/a"
    schema = _object(b={"$ref": "#"}, a={"type": "date"})
    assert _refusal(schema).path == "/properties/b"


# ---- text fields --------------------------------------------------------------------------------


def test_check_name_strips_and_bounds() -> None:
    assert check_name("  Invoices  ") == "Invoices"
    assert check_name("x" * 255) == "x" * 255
    for bad in ("", "   ", "x" * 256):
        with pytest.raises(SchemaRuleBroken) as caught:
            check_name(bad)
        assert (caught.value.rule, caught.value.path) == ("name_length", "")


@pytest.mark.parametrize(
    ("check", "limit", "rule"),
    [
        (check_description, 1000, "description_length"),
        (check_prompt_hint, 2000, "prompt_hint_length"),
    ],
)
def test_text_fields_are_bounded(check: Any, limit: int, rule: str) -> None:
    assert check(None) is None
    assert check("x" * limit) == "x" * limit
    with pytest.raises(SchemaRuleBroken) as caught:
        check("x" * (limit + 1))
    assert caught.value.rule == rule
    assert f"at most {limit:,}" in caught.value.message


# ---- derived shapes -----------------------------------------------------------------------------


def test_leaf_fields_of_the_invoice_skip_arrays_of_objects() -> None:
    fields = {field.path: field for field in leaf_fields(INVOICE)}
    assert list(fields) == [
        "invoice_number",
        "date",
        "total",
        "email",
        "currency",
        "vendor.name",
        "vendor.vat_id",
    ]
    assert fields["date"] == FieldSpec("date", ("string",), "", "date", None, "date")
    assert fields["invoice_number"].description == "As printed, e.g. INV-0042"
    assert fields["currency"].enum == ("EUR", "USD", "GBP")
    assert fields["vendor.vat_id"].types == ("string", "null")
    assert fields["vendor.vat_id"].name == "vat_id"


def test_leaf_fields_merge_anyof_types_and_keep_arrays_of_scalars() -> None:
    fields = {field.path: field for field in leaf_fields(NAMEPLATE)}
    assert fields["voltage_v"].types == ("integer", "number")
    assert fields["serial_number"].types == ("string", "null")
    assert fields["certifications"].types == ("array",)
    assert fields["certifications"].item_types == ("string",)


def test_empty_data_has_the_object_shape() -> None:
    assert empty_data(INVOICE) == {
        "invoice_number": None,
        "date": None,
        "total": None,
        "email": None,
        "currency": None,
        "vendor": {"name": None, "vat_id": None},
        "line_items": None,
    }


def test_set_path_walks_and_creates_objects() -> None:
    data: dict[str, Any] = {"vendor": None}
    set_path(data, "vendor.name", "ACME")
    set_path(data, "total", 3.5)
    set_path(data, "a.b.c", 1)
    assert data == {"vendor": {"name": "ACME"}, "total": 3.5, "a": {"b": {"c": 1}}}
    for bad in ("", "a..b", "total.x"):
        with pytest.raises(ValueError):
            set_path(data, bad, 1)


def test_nullable_closes_objects_and_accepts_null_everywhere_below_the_root() -> None:
    strict = nullable(INVOICE)
    assert strict["type"] == "object"
    assert strict["additionalProperties"] is False
    assert strict["required"] == list(INVOICE["properties"])
    props = strict["properties"]
    assert props["total"]["type"] == ["number", "null"]
    assert props["currency"]["enum"] == ["EUR", "USD", "GBP", None]
    assert props["vendor"]["required"] == ["name", "vat_id"]
    assert props["vendor"]["properties"]["vat_id"]["anyOf"] == [
        {"type": ["string", "null"], "pattern": "^[A-Z]{2}"},
        {"type": "null"},
    ]
    rows = props["line_items"]["items"]
    assert rows["type"] == ["object", "null"]
    assert rows["additionalProperties"] is False
    assert INVOICE["properties"]["total"]["type"] == "number"  # the original is untouched
    assert nullable(strict) == strict


def test_validate_data_reports_paths_and_messages() -> None:
    data = empty_data(INVOICE)
    data.update(total="abc", extra=1)
    data["vendor"] = {"name": 5}
    data["line_items"] = [{"description": "bolt", "quantity": 1.5, "amount": None}]
    assert validate_data(INVOICE, data) == [
        "(root): Additional properties are not allowed ('extra' was unexpected)",
        "line_items[0].quantity: 1.5 is not of type 'integer', 'null'",
        "total: 'abc' is not of type 'number', 'null'",
        "vendor: 'vat_id' is a required property",
        "vendor.name: 5 is not of type 'string', 'null'",
    ]


def test_validate_data_caps_the_errors() -> None:
    schema = _object(**{f"p{i}": {"type": "integer"} for i in range(30)})
    assert len(validate_data(schema, {f"p{i}": "x" for i in range(30)})) == 20


# ---- properties ---------------------------------------------------------------------------------

_NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8)
_SCALAR_TYPES = st.sampled_from(["string", "integer", "number", "boolean"])


@st.composite
def _scalar(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(_SCALAR_TYPES)
    node: dict[str, Any] = {"type": draw(st.sampled_from([kind, [kind, "null"]]))}
    if draw(st.booleans()):
        node["description"] = draw(st.text(max_size=20))
    if kind == "string":
        extra = draw(st.sampled_from(["", "format", "enum", "pattern", "maxLength"]))
        values = {"format": "date", "enum": ["a", "b"], "pattern": "^[A-Z]+$", "maxLength": 9}
        if extra:
            node[extra] = values[extra]
    elif kind in ("integer", "number") and draw(st.booleans()):
        node["minimum"] = draw(st.integers(-5, 5))
    return node


@functools.cache
def _node(depth: int) -> st.SearchStrategy[dict[str, Any]]:
    """A valid schema node that sits at `depth`."""
    if depth >= MAX_DEPTH:
        return st.one_of(_scalar(), _anyof(_scalar()))
    child = _node(depth + 1)
    array = child.map(lambda items: {"type": "array", "items": items})
    # anyOf branches sit at the node's own depth, so they may be objects here too.
    return st.one_of(_scalar(), _anyof(_scalar() | _objects(child)), array, _objects(child))


def _anyof(branch: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.lists(branch, min_size=1, max_size=2).map(
        lambda branches: {"anyOf": [*branches, {"type": "null"}]}
    )


def _objects(child: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(_NAMES, child, max_size=3).map(
        lambda props: {"type": "object", "properties": props, "required": sorted(props)[:1]}
    )


# Nested anyOf-of-objects can multiply past the node limit; such draws are rare.
_VALID = _objects(_node(1)).filter(lambda schema: len(list(_nodes(schema))) <= MAX_NODES)


def _nodes(
    node: dict[str, Any], path: str = "", depth: int = 0
) -> Iterator[tuple[str, int, dict[str, Any]]]:
    yield path, depth, node
    for name, child in node.get("properties", {}).items():
        yield from _nodes(child, f"{path}/properties/{name}", depth + 1)
    if "items" in node:
        yield from _nodes(node["items"], f"{path}/items", depth + 1)
    for index, branch in enumerate(node.get("anyOf", [])):
        yield from _nodes(branch, f"{path}/anyOf/{index}", depth)


def _at(schema: dict[str, Any], path: str) -> dict[str, Any]:
    node = schema
    for part in path.split("/")[1:]:
        node = node[int(part)] if part.isdigit() and isinstance(node, list) else node[part]
    return node


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_VALID)
def test_valid_schemas_pass_and_their_empty_record_validates(schema: dict[str, Any]) -> None:
    check_schema(schema)
    check_schema(nullable(schema))
    data = empty_data(schema)
    assert validate_data(schema, data) == []
    for field in leaf_fields(schema):
        set_path(data, field.path, None)  # every leaf path lands inside the empty record
    assert data == empty_data(schema)


@settings(max_examples=40, deadline=None)
@given(_VALID, st.data())
def test_a_forbidden_keyword_anywhere_is_refused_there(
    schema: dict[str, Any], data: st.DataObject
) -> None:
    path, _, _ = data.draw(st.sampled_from(list(_nodes(schema))))
    keyword = data.draw(st.sampled_from(FORBIDDEN))
    mutated = copy.deepcopy(schema)
    _at(mutated, path)[keyword] = {"type": "string"}
    refusal = _refusal(mutated)
    assert (refusal.rule, refusal.path) == ("unsupported_keyword", path)


@settings(max_examples=40, deadline=None)
@given(_VALID, st.data())
def test_nesting_past_the_limit_is_refused_at_the_first_node_too_deep(
    schema: dict[str, Any], data: st.DataObject
) -> None:
    candidates = [(p, d) for p, d, n in _nodes(schema) if p.rsplit("/", 2)[-2:-1] == ["properties"]]
    if not candidates:
        schema["properties"]["x"] = {"type": "string"}
        candidates = [("/properties/x", 1)]
    path, depth = data.draw(st.sampled_from(candidates))
    chain: dict[str, Any] = {"type": "string"}
    for _ in range(MAX_DEPTH + 1 - depth):
        chain = _object(x=chain)
    mutated = copy.deepcopy(schema)
    parent, name = path.rsplit("/", 1)
    _at(mutated, parent)[name] = chain
    refusal = _refusal(mutated)
    assert (refusal.rule, refusal.path) == (
        "too_deep",
        path + "/properties/x" * (MAX_DEPTH + 1 - depth),
    )


_KEYS = st.sampled_from(
    ["type", "properties", "items", "anyOf", "required", "enum", "pattern", "$ref", "format"]
) | st.text(max_size=4)
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=6)
    | st.sampled_from(["object", "string", "array", "null", "number"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=30,
)


_RULES = {
    "root_not_object",
    "too_deep",
    "too_large",
    "unsupported_type",
    "unsupported_keyword",
    "missing_type",
    "invalid_keyword",
    "bad_property_name",
    "too_many_properties",
    "too_many_nodes",
}


def _accepted_or_refused_with_a_rule(value: object) -> None:
    try:
        check_schema(value)
    except SchemaRuleBroken as refusal:
        assert refusal.rule in _RULES
        assert refusal.path == "" or refusal.path.startswith("/")
        return
    assert isinstance(value, dict)
    assert validate_data(value, empty_data(value)) == []


@settings(max_examples=80, deadline=None)
@given(_JSON | st.dictionaries(_KEYS, _JSON, max_size=5).map(lambda d: {**d, "type": "object"}))
def test_arbitrary_json_is_accepted_or_refused_with_a_rule(value: object) -> None:
    _accepted_or_refused_with_a_rule(value)


@settings(max_examples=80, deadline=None)
@given(_VALID, st.data())
def test_a_corrupted_keyword_is_accepted_or_refused_with_a_rule(
    schema: dict[str, Any], data: st.DataObject
) -> None:
    # Arbitrary JSON alone rarely gets past the root; corrupting one keyword of a valid schema
    # reaches every check at every depth.
    path, _, _ = data.draw(st.sampled_from(list(_nodes(schema))))
    mutated = copy.deepcopy(schema)
    node = _at(mutated, path)
    keyword = data.draw(st.sampled_from([*node, "type", "items", "enum", "minimum", "required"]))
    node[keyword] = data.draw(_JSON)
    _accepted_or_refused_with_a_rule(mutated)
