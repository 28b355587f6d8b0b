"""Declared permissions on GraphQL fields: `@felt(...)` and `@mutasjon(...)` are strawberry's
field and mutation with the operation's `Tillatelse` (authz.tillatelse) checked before the
resolver runs. A refusal is raised as the rules' `Avslag`, which app.faults answers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import strawberry
from strawberry.extensions import FieldExtension
from strawberry.types.field import StrawberryField

from app.api.context import Info
from authz.tillatelse import Tillatelse


class Krever(FieldExtension):
    """The field's declared permission, checked before its resolver."""

    def __init__(self, tillatelse: Tillatelse) -> None:
        self.tillatelse = tillatelse

    async def resolve_async(
        self, next_: Callable[..., Awaitable[Any]], source: Any, info: Info, **kwargs: Any
    ) -> Any:
        await info.context.foresporsel.kontroller(self.tillatelse)
        return await next_(source, info, **kwargs)


def tillatelse(field: StrawberryField) -> Tillatelse | None:
    """The permission a field declares, if any."""
    for extension in field.extensions:
        if isinstance(extension, Krever):
            return extension.tillatelse
    return None


# strawberry types its decorators as returning Any (they return a StrawberryField); these keep
# the resolver's own type for the checker, as strawberry's mypy plugin would.
Resolver = TypeVar("Resolver", bound=Callable[..., Any])


def felt(tillatelse_: Tillatelse, **options: Any) -> Callable[[Resolver], Resolver]:
    """`strawberry.field` with a declared permission."""
    decorator: Callable[[Resolver], Resolver] = strawberry.field(
        extensions=[Krever(tillatelse_)], **options
    )
    return decorator


def mutasjon(tillatelse_: Tillatelse, **options: Any) -> Callable[[Resolver], Resolver]:
    """`strawberry.mutation` with a declared permission."""
    decorator: Callable[[Resolver], Resolver] = strawberry.mutation(
        extensions=[Krever(tillatelse_)], **options
    )
    return decorator
