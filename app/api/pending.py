"""Work that must succeed before an answer leaves, awaited after the answer is built.

A lookup's audit record must be durable before anything it records is disclosed, but nothing
stops the answer being built while the record is written: the resolver starts the write and
registers it (`app.api.context.before_answer`), execution completes the persons meanwhile, and
this extension awaits the write once execution is done, before the response is encoded or
sent. A failure is the field's error as graphql-core would have reported it had the resolver
raised it (located at the field; the field is non-null, so the answer holds no data), and the
errors the field added (its withheld fields) go with its data.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from graphql import GraphQLError, located_error
from strawberry.extensions import SchemaExtension

from app.api.context import Context
from app.api.errors import forget_frames, log_errors


class AwaitPending(SchemaExtension):
    """Awaits the work resolvers registered, after execution, before the answer is encoded."""

    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context.context
        try:
            yield
        except BaseException:
            # Execution failed or was cancelled (the deadline): nothing will be answered from
            # it, so what it started is stopped too.
            if isinstance(context, Context):
                for pending in context.pending:
                    pending.work.cancel()
            raise
        if not isinstance(context, Context) or not context.pending:
            return
        failed: list[GraphQLError] = []
        for pending in context.pending:
            try:
                await pending.work
            except Exception as exc:
                failed.append(located_error(exc, pending.nodes, pending.path))
        if not failed:
            return
        result = self.execution_context.result
        if result is None:
            return
        paths = [e.path for e in failed if e.path]
        context.errors[:] = [
            e for e in context.errors
            if not (e.path and any(list(e.path[:len(p)]) == list(p) for p in paths))
        ]
        # As graphql-core's own errors are (KrrSchema.process_errors).
        log_errors(failed)
        forget_frames(failed)
        result.data = None
        result.errors = [*(result.errors or []), *failed]

