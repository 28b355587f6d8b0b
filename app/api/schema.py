"""The schema: every domain's queries merged into one Query type, mutations into one
Mutation type."""

from __future__ import annotations

import strawberry
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import AddValidationRules
from strawberry.schema.config import StrawberryConfig

from app.api.errors import ContextErrors
from app.audit.graphql import BrukQuery
from app.delegations.graphql import DelegeringMutation, DelegeringQuery
from app.feed.graphql import EndringMutation, EndringQuery
from app.persons.queries import PersonQuery
from app.residents.graphql import MegMutation, MegQuery


@strawberry.type
class Query(PersonQuery, DelegeringQuery, BrukQuery, MegQuery, EndringQuery):
    pass


@strawberry.type
class Mutation(DelegeringMutation, MegMutation, EndringMutation):
    pass


def build_schema(*, introspection: bool = True) -> strawberry.Schema:
    extensions: list = [ContextErrors]
    if not introspection:
        extensions.append(lambda: AddValidationRules([NoSchemaIntrospectionCustomRule]))
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        extensions=extensions,
        config=StrawberryConfig(auto_camel_case=True),
    )


def export_sdl() -> str:
    return build_schema().as_str() + "\n"
