"""The one place strawberry's private attributes are read: its graphql-core schema, the
graphql-core resolve info behind a resolver's `info`, the strawberry field behind a
graphql-core field, the validation rules strawberry adds to graphql-core's, and the operation
name a request gave. An upgrade of strawberry that moves them is mended here."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any, TypeVar

import strawberry
from graphql import (
    GraphQLField,
    GraphQLResolveInfo,
    GraphQLSchema,
    OperationDefinitionNode,
    get_operation_ast,
)
from graphql.validation import ASTValidationRule
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule
from strawberry.types import ExecutionContext
from strawberry.types.field import StrawberryField
from strawberry.types.graphql import OperationType
from strawberry.utils.operation import get_first_operation

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


class GetOperation(ExecutionContext):
    """strawberry's execution context, choosing the operation as GraphQL does (the spec's
    GetOperation, 6.1): the one `operationName` names, or the document's only one. strawberry
    falls back to the document's first operation, so a document of several without an
    `operationName` ran its first; here it names none, and app.api.validation refuses it."""

    @property
    def requested_operation_name(self) -> str | None:
        """The `operationName` the request gave (None: none)."""
        name: str | None = self._provided_operation_name
        return name

    @property
    def operation(self) -> OperationDefinitionNode | None:
        """The operation that runs; None when the document names no one operation."""
        document = self.graphql_document
        if document is None:
            return None
        return get_operation_ast(document, self.requested_operation_name)

    @property
    def operation_name(self) -> str | None:
        operation = self.operation
        return self.requested_operation_name or (
            operation.name.value if operation is not None and operation.name else None)

    @property
    def operation_type(self) -> OperationType:
        """The type of the operation that runs. strawberry asks before validation, to check
        the types the HTTP method allows: for a document that names no one operation the
        first's type (strawberry's own choice) stands in, since validation then refuses it
        (and a document without any operation has unused fragments, or does not parse)."""
        if self.graphql_document is None:
            raise RuntimeError("No GraphQL document available")  # as strawberry's
        operation = self.operation or get_first_operation(self.graphql_document)
        return OperationType.QUERY if operation is None else OperationType(
            operation.operation.value)


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
