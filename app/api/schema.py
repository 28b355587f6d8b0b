"""The schema: every domain's queries merged into one Query type, mutations into one
Mutation type."""

from __future__ import annotations

import logging
import traceback

import strawberry
from graphql import GraphQLError
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


log = logging.getLogger("krr.graphql")


class KrrSchema(strawberry.Schema):
    """Logs errors without their messages or the query: both can hold personal ids and
    addresses, which never go into a log line."""

    def process_errors(self, errors: list[GraphQLError], execution_context: object = None) -> None:
        for err in errors:
            code = (err.extensions or {}).get("code")
            path = ".".join(str(p) for p in err.path or ()) or "-"
            original = err.original_error
            if code is not None or original is None or isinstance(original, GraphQLError):
                log.info("graphql error code=%s path=%s", code or "GRAPHQL_VALIDATION", path)
            else:
                frames = "".join(traceback.format_tb(original.__traceback__))
                log.error("unexpected %s at path=%s\n%s", type(original).__name__, path, frames)


def build_schema(*, introspection: bool = True) -> strawberry.Schema:
    extensions: list = [ContextErrors]
    if not introspection:
        extensions.append(lambda: AddValidationRules([NoSchemaIntrospectionCustomRule]))
    return KrrSchema(
        query=Query,
        mutation=Mutation,
        extensions=extensions,
        config=StrawberryConfig(auto_camel_case=True),
    )


def export_sdl() -> str:
    return build_schema().as_str() + "\n"
