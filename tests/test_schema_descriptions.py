"""Every type, field, argument and enum value of the schema says what it is: the register's
meaning, the scope it needs, what null means. Checked on the schema itself (graphql-core's,
built as the service builds it), so it holds without node and graphql-schema-linter."""

from __future__ import annotations

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLScalarType,
)

from app.api.internals import graphql_schema
from app.edge.schema import build_schema

# graphql-core's own types (and scalars) come described by the spec.
BUILT_IN = {"String", "Int", "Float", "Boolean", "ID"}


def _undescribed() -> list[str]:
    schema = graphql_schema(build_schema())
    missing = []
    for name, type_ in schema.type_map.items():
        if name.startswith("__") or name in BUILT_IN:
            continue
        if not (type_.description or "").strip():
            missing.append(name)
        if isinstance(type_, GraphQLObjectType | GraphQLInterfaceType):
            for fname, field in type_.fields.items():
                if not (field.description or "").strip():
                    missing.append(f"{name}.{fname}")
                missing += [f"{name}.{fname}({arg})" for arg, a in field.args.items()
                            if not (a.description or "").strip()]
        elif isinstance(type_, GraphQLInputObjectType):
            missing += [f"{name}.{fname}" for fname, field in type_.fields.items()
                        if not (field.description or "").strip()]
        elif isinstance(type_, GraphQLEnumType):
            missing += [f"{name}.{value}" for value, v in type_.values.items()
                        if not (v.description or "").strip()]
    return missing


def test_everything_in_the_schema_is_described():
    assert _undescribed() == []


def test_date_scalars_name_their_specification():
    schema = graphql_schema(build_schema())
    urls = {}
    for name in ("Date", "DateTime"):
        scalar = schema.type_map[name]
        assert isinstance(scalar, GraphQLScalarType)
        urls[name] = scalar.specified_by_url
    assert urls == {
        "Date": "https://scalars.graphql.org/andimarek/local-date.html",
        "DateTime": "https://scalars.graphql.org/andimarek/date-time.html",
    }
