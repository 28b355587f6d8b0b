"""GraphQL's request limits: each refuses with its own code before any work beyond the check.

- body size and batched (array) bodies: at the edge (app.edge), before the token is verified;
- tokens: while parsing (graphql-core stops counting at the maximum);
- the size of the document once its fragments are spread, then depth and aliases: measured in
  one pass, linear in the document (each fragment measured once however often it is spread),
  before any validation rule runs (app.api.validation), so a few hundred bytes of fragments
  that each spread the next twice cannot make validation expand them a million times;
- persons: a check in the request path after validation and before execution (it needs the
  request's variables, which validation rules do not see), so nothing is looked up, paged or
  created. Each feature declares how its fields count persons (`Personfelt`), the composing
  layer lists them and says how many one request may ask for (`Personbegrensning`); the rate
  limit counts them the same way (`persons_in_body`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSyntaxError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    Undefined,
    value_from_ast_untyped,
)
from strawberry.extensions import MaxTokensLimiter, SchemaExtension

from app.api.parsing import parsed
from app.text import NotJson, load_json

QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
QUERY_TOO_DEEP = "QUERY_TOO_DEEP"
TOO_MANY_ALIASES = "TOO_MANY_ALIASES"
TOO_MANY_TOKENS = "TOO_MANY_TOKENS"
TOO_MANY_PERSONS = "TOO_MANY_PERSONS"

MAX_BODY_BYTES = 1024 * 1024  # the default for KRR_MAX_BODY_BYTES


@dataclass(frozen=True, slots=True)
class Personfelt:
    """A root field that returns persons, as its feature declares it, and how many persons one
    call of it returns at most: the distinct ids its `argument` lists (a lookup, `ider`), or the
    number its `argument` holds (a page, `antall`; `standard` when it is left out or null).

    A call asking for more than `maks` is refused by the field itself (BAD_USER_INPUT, before
    any database work), so it counts as `maks` here: alone, it gets its own error; beside other
    fields, the sum is over the cap."""

    felt: str
    argument: str
    maks: int
    teller_ider: bool
    standard: int

    @classmethod
    def ider(cls, felt: str, argument: str, maks: int) -> Personfelt:
        return cls(felt, argument, maks, teller_ider=True, standard=0)

    @classmethod
    def antall(cls, felt: str, argument: str, maks: int, standard: int | None = None
               ) -> Personfelt:
        """`standard`: the argument's default (None: the argument is required, and counts
        `maks` should it be missing)."""
        return cls(felt, argument, maks, teller_ider=False,
                   standard=maks if standard is None else standard)

    def personer(self, verdi: Any) -> int:
        """How many persons a call with this argument value returns at most. `verdi` as the
        client sent it (a JSON value, or a literal turned into one; Undefined when absent);
        a value of the wrong type counts nothing, it is refused by GraphQL's type check."""
        if self.teller_ider:
            if isinstance(verdi, str):  # GraphQL takes one string for a list of one
                antall = 1
            elif isinstance(verdi, list):
                antall = len({v for v in verdi if isinstance(v, str)})
            else:
                antall = 0
        elif verdi is None or verdi is Undefined:
            antall = self.standard
        elif isinstance(verdi, int) and not isinstance(verdi, bool):
            antall = verdi
        else:
            antall = 0
        return max(0, min(antall, self.maks))


@dataclass(frozen=True, slots=True)
class Personbegrensning:
    """The fields that return persons (each feature declares its own; the composing layer
    lists them) and how many persons one request may ask for over all of them: every field,
    alias, fragment spread and operation. The rate limit charges the same count."""

    felt: tuple[Personfelt, ...]
    maks: int


@dataclass(frozen=True, slots=True)
class RequestLimits:
    """The configurable maxima (Settings carries them, from KRR_MAX_*)."""

    max_depth: int = 10
    max_aliases: int = 30
    max_tokens: int = 5000
    max_fields: int = 1000
    max_body_bytes: int = MAX_BODY_BYTES


# --- GraphQL ------------------------------------------------------------------------------------


class CodedTokensLimiter(MaxTokensLimiter):
    """Strawberry's token limit (the parser gives up at the maximum), with a code added; so
    too the parser's own limit on nesting (graphql-core gives up past 200 levels)."""

    def on_parse(self) -> Iterator[None]:
        yield
        for error in self.execution_context.pre_execution_errors or ():
            if not isinstance(error, GraphQLSyntaxError):
                continue
            if "tokens. Parsing aborted" in error.message:
                error.extensions = {**(error.extensions or {}), "code": TOO_MANY_TOKENS}
            elif "nested too deeply. Parsing aborted" in error.message:
                error.extensions = {**(error.extensions or {}), "code": QUERY_TOO_DEEP}


# --- the document's size, depth and aliases -----------------------------------------------------

# Counts stop here: a few hundred bytes of fragments can stand for 2**800 fields, and nothing
# needs to know more than that the limit is passed.
CEILING = 1 << 40


@dataclass(frozen=True, slots=True)
class Shape:
    """A selection set with every fragment spread in place: the fields it selects, how deep its
    fields nest (introspection fields, `__schema` and the like, count no depth, so GraphiQL's
    own query passes) and how many of its fields are aliased."""

    fields: int = 0
    depth: int = 0
    aliases: int = 0


def _spreads(selection_set: SelectionSetNode) -> list[str]:
    """The fragments a selection set spreads, at any depth (each spread once per place)."""
    names: list[str] = []
    pending = [selection_set]
    while pending:
        for node in pending.pop().selections:
            if isinstance(node, FragmentSpreadNode):
                names.append(node.name.value)
            elif isinstance(node, FieldNode | InlineFragmentNode) and node.selection_set:
                pending.append(node.selection_set)
    return names


def _shape(selection_set: SelectionSetNode, fragments: Mapping[str, Shape]) -> Shape:
    """The shape of one selection set, given the shapes of the fragments it spreads (a fragment
    missing from `fragments`, unknown or part of a cycle, counts nothing: validation reports
    it). Recursion follows the selection's own nesting only, which the parser bounds."""
    fields = depth = aliases = 0
    for node in selection_set.selections:
        if isinstance(node, FieldNode):
            fields += 1
            aliases += node.alias is not None
            if node.selection_set is not None:
                inner = _shape(node.selection_set, fragments)
                fields += inner.fields
                aliases += inner.aliases
                if not node.name.value.startswith("__"):
                    depth = max(depth, inner.depth + 1)
        else:
            if isinstance(node, InlineFragmentNode):
                inner = _shape(node.selection_set, fragments)
            elif isinstance(node, FragmentSpreadNode):
                inner = fragments.get(node.name.value, Shape())
            else:  # no other kind of selection exists
                continue
            fields += inner.fields
            aliases += inner.aliases
            depth = max(depth, inner.depth)
    return Shape(min(fields, CEILING), depth, min(aliases, CEILING))


def dependency_order(fragments: Mapping[str, FragmentDefinitionNode]) -> list[str]:
    """Every fragment's name, each after the fragments it spreads (in a cycle, which validation
    refuses, one of them first). A depth-first walk with its own stack: a chain of fragments is
    not bounded by the parser's nesting limit, so it must not meet Python's recursion limit."""
    order: list[str] = []
    done: set[str] = set()
    for root in fragments:
        if root in done:
            continue
        stack = [(root, iter(_spreads(fragments[root].selection_set)))]
        on_stack = {root}
        while stack:
            name, spreads = stack[-1]
            for spread in spreads:
                if spread in fragments and spread not in done and spread not in on_stack:
                    stack.append((spread, iter(_spreads(fragments[spread].selection_set))))
                    on_stack.add(spread)
                    break
            else:
                stack.pop()
                on_stack.discard(name)
                done.add(name)
                order.append(name)
    return order


def fragments_of(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions
            if isinstance(d, FragmentDefinitionNode)}


def fragment_shapes(document: DocumentNode) -> dict[str, Shape]:
    """Every fragment's shape, each worked out once, after the fragments it spreads."""
    fragments = fragments_of(document)
    shapes: dict[str, Shape] = {}
    for name in dependency_order(fragments):
        shapes[name] = _shape(fragments[name].selection_set, shapes)
    return shapes


@dataclass(frozen=True, slots=True)
class Measure:
    """A document's size (the fields every operation and every fragment would select with
    their spreads in place, summed: the work of execution and of the validation rules grows
    with it, and a fragment no operation uses is counted too, since validation still walks
    it), each operation's depth, and its aliases summed over the operations (a fragment's each
    time it is spread)."""

    fields: int
    aliases: int
    depths: list[tuple[OperationDefinitionNode, int]]


def measure(document: DocumentNode) -> Measure:
    fragments = fragment_shapes(document)
    shapes = [(op, _shape(op.selection_set, fragments)) for op in document.definitions
              if isinstance(op, OperationDefinitionNode)]
    fields = sum(shape.fields for _, shape in shapes) + sum(s.fields for s in fragments.values())
    return Measure(min(fields, CEILING), min(sum(s.aliases for _, s in shapes), CEILING),
                   [(op, shape.depth) for op, shape in shapes])


def document_limits(document: DocumentNode, limits: RequestLimits) -> list[GraphQLError]:
    """The refusals of a document by its size, depth and aliases (`measure`), without
    validating it. When the size is over its limit, that is the one refusal."""
    size = measure(document)
    if size.fields > limits.max_fields:
        return [GraphQLError(
            f"The document selects more than {limits.max_fields} fields once its fragments "
            "are spread in place",
            extensions={"code": QUERY_TOO_COMPLEX, "maks": limits.max_fields},
        )]
    errors = [
        GraphQLError(
            f"Operation {op.name.value if op.name else '(anonymous)'!r} nests {depth} "
            f"fields deep; at most {limits.max_depth} are allowed",
            op, extensions={"code": QUERY_TOO_DEEP, "maks": limits.max_depth},
        )
        for op, depth in size.depths if depth > limits.max_depth
    ]
    if size.aliases > limits.max_aliases:
        errors.append(GraphQLError(
            f"The document uses more than {limits.max_aliases} aliases once its fragments are "
            "spread in place",
            extensions={"code": TOO_MANY_ALIASES, "maks": limits.max_aliases},
        ))
    return errors


class PersonLimit(SchemaExtension):
    """At most `begrensning.maks` persons per request, summed over every field that returns
    persons (aliases, fragments, all operations). Refused before execution, so nothing is
    looked up, paged or created."""

    def __init__(self, *, begrensning: Personbegrensning) -> None:
        self.begrensning = begrensning

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        maks = self.begrensning.maks
        if document is not None and context.result is None:
            total = persons_asked(document, context.variables or {}, self.begrensning)
            if total > maks:
                context.result = ExecutionResult(data=None, errors=[GraphQLError(
                    f"The request asks for up to {total} persons; at most {maks} are allowed "
                    "in one request, however they are spread over fields",
                    extensions={"code": TOO_MANY_PERSONS, "antall": total, "maks": maks},
                )])
        yield


def schema_extensions(begrensning: Personbegrensning, limits: RequestLimits) -> list[
    Callable[[], SchemaExtension]
]:
    """Factories (not instances: strawberry wants one extension per request). Size, depth and
    aliases are app.api.validation's, checked with the document before any validation rule."""
    return [
        functools.partial(CodedTokensLimiter, max_token_count=limits.max_tokens),
        functools.partial(PersonLimit, begrensning=begrensning),
    ]


# --- counting persons ---------------------------------------------------------------------------

def persons_asked(
    document: DocumentNode, variables: Mapping[str, Any], begrensning: Personbegrensning
) -> int:
    """The persons every operation's root fields return at most, summed (each as its
    `Personfelt` counts them). A fragment counts each time it is spread, and is worked out once
    per document, or once per operation whose variables have defaults of their own (the
    values its fields see are that operation's). Only root fields: they return the persons."""
    felt = {f.felt: f for f in begrensning.felt}
    fragments = fragments_of(document)
    order = dependency_order(fragments)
    shared: dict[str, int] | None = None
    total = 0
    for operation in document.definitions:
        if not isinstance(operation, OperationDefinitionNode):
            continue
        defaults = {
            d.variable.name.value: value_from_ast_untyped(d.default_value)
            for d in operation.variable_definitions or ()
            if d.default_value is not None and d.variable.name.value not in variables
        }
        values = {**variables, **defaults}
        if shared is not None and not defaults:
            counts = shared
        else:
            counts = {}
            for name in order:
                counts[name] = _persons(fragments[name].selection_set, felt, counts, values)
            if not defaults:
                shared = counts
        total += _persons(operation.selection_set, felt, counts, values)
    return min(total, CEILING)


def _persons(selection_set: SelectionSetNode, felt: Mapping[str, Personfelt],
             fragments: Mapping[str, int], variables: dict[str, Any]) -> int:
    """The persons a selection set's own fields return, with inline fragments and the counts of
    the fragments it spreads (a fragment missing, unknown or in a cycle, counts nothing)."""
    total = 0
    for node in selection_set.selections:
        if isinstance(node, FieldNode):
            field = felt.get(node.name.value)
            if field is not None:
                value = next((value_from_ast_untyped(a.value, variables)
                              for a in node.arguments or () if a.name.value == field.argument),
                             Undefined)
                total += field.personer(value)
        elif isinstance(node, InlineFragmentNode):
            total += _persons(node.selection_set, felt, fragments, variables)
        elif isinstance(node, FragmentSpreadNode):
            total += fragments.get(node.name.value, 0)
    return min(total, CEILING)


def persons_in_body(body: bytes, begrensning: Personbegrensning, max_tokens: int) -> int:
    """How many persons a GraphQL request body asks for, counted as PersonLimit counts them
    (for the rate limit, before GraphQL reads the request: it then finds the document parsed,
    app.api.parsing). Unparsable requests, and those over the token limit, count 0: GraphQL
    refuses them without looking anyone up."""
    try:
        payload = load_json(body)  # as the view reads it, or the count could be dodged
    except NotJson:
        return 0
    items = payload if isinstance(payload, list) else [payload]
    total = 0
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("query"), str):
            continue
        try:
            document = parsed(item["query"], max_tokens)
        except GraphQLError:
            continue
        variables = item.get("variables")
        total += persons_asked(
            document, variables if isinstance(variables, dict) else {}, begrensning
        )
    return min(total, CEILING)
