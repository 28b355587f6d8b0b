"""The one place strawberry's private attributes are read: its graphql-core schema, the
graphql-core resolve info behind a resolver's `info`, the strawberry field behind a
graphql-core field, and the validation rules strawberry adds to graphql-core's. An upgrade of
strawberry that moves them is mended here."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any, TypeVar

import strawberry
from graphql import GraphQLField, GraphQLResolveInfo, GraphQLSchema
from graphql.validation import ASTValidationRule
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule
from strawberry.types.field import StrawberryField

E = TypeVar("E", bound=Enum)


def graphql_schema(schema: strawberry.Schema) -> GraphQLSchema:
    """graphql-core's schema that strawberry built and executes."""
    return schema._schema


def resolve_info(info: strawberry.Info[Any, Any]) -> GraphQLResolveInfo[Any]:
    """graphql-core's info of a resolver: its field nodes, the fragments and the variables."""
    return info._raw_info


def strawberry_field(field: GraphQLField) -> StrawberryField | None:
    """The strawberry field a graphql-core field was made from (None for graphql-core's own)."""
    definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    return definition if isinstance(definition, StrawberryField) else None


# What strawberry's own validation (`validate_document`) adds to the rules it is given; our
# validation (app.api.validation) runs instead of it, so it adds them too.
STRAWBERRY_RULES: tuple[type[ASTValidationRule], ...] = (
    MaybeNullValidationRule, OneOfInputValidationRule,
)


def enum(
    cls: type[E], *, name: str, description: str, verdier: Mapping[E, str]
) -> type[E]:
    """`strawberry.enum` of a domain enum (which imports no strawberry, so cannot use
    `strawberry.enum_value`), with a description for each value: every member must have one."""
    strawberry.enum(cls, name=name, description=description)
    definition = cls.__strawberry_definition__  # type: ignore[attr-defined]
    beskrivelser = {member.value: tekst for member, tekst in verdier.items()}
    for value in definition.values:
        value.description = beskrivelser[value.value]  # KeyError: an undescribed member
    return cls
