"""GraphQL's request limits: each refuses with its own code before any work beyond the check.

- body size and batched (array) bodies: at the edge (app.edge), before the token is verified;
- tokens: while parsing (graphql-core stops counting at the maximum);
- the size of the document once its fragments are spread, then depth and aliases: measured in
  one pass, linear in the document (each fragment measured once however often it is spread),
  before any validation rule runs (app.api.validation), so a few hundred bytes of fragments
  that each spread the next twice cannot make validation expand them a million times;
- person ids: a check in the request path after validation and before execution (it needs the
  request's variables, which validation rules do not see), so nothing is looked up. Which
  fields name persons, and how many a request may name, is the composing layer's to say
  (`Personfelt`); the rate limit counts them the same way (`persons_in_body`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSyntaxError,
    InlineFragmentNode,
    ListValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    ValueNode,
    VariableNode,
    parse,
)
from strawberry.extensions import MaxTokensLimiter, SchemaExtension

QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
QUERY_TOO_DEEP = "QUERY_TOO_DEEP"
TOO_MANY_ALIASES = "TOO_MANY_ALIASES"
TOO_MANY_TOKENS = "TOO_MANY_TOKENS"
TOO_MANY_PERSONS = "TOO_MANY_PERSONS"

MAX_BODY_BYTES = 1024 * 1024  # the default for KRR_MAX_BODY_BYTES


@dataclass(frozen=True, slots=True)
class Personfelt:
    """A field that names persons in an argument (`personer(personidentifikatorer: ...)`), and
    how many distinct persons one request may name over all such fields."""

    felt: str
    argument: str
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


def fragment_shapes(document: DocumentNode) -> dict[str, Shape]:
    """Every fragment's shape, each worked out once, after the fragments it spreads (a
    depth-first walk with its own stack: a chain of fragments is not bounded by the parser's
    nesting limit, so it must not be bounded by Python's recursion limit either)."""
    definitions = {d.name.value: d for d in document.definitions
                   if isinstance(d, FragmentDefinitionNode)}
    shapes: dict[str, Shape] = {}
    for root in definitions:
        if root in shapes:
            continue
        stack = [(root, iter(_spreads(definitions[root].selection_set)))]
        on_stack = {root}
        while stack:
            name, spreads = stack[-1]
            for spread in spreads:
                if spread in definitions and spread not in shapes and spread not in on_stack:
                    stack.append((spread, iter(_spreads(definitions[spread].selection_set))))
                    on_stack.add(spread)
                    break
            else:
                stack.pop()
                on_stack.discard(name)
                shapes[name] = _shape(definitions[name].selection_set, shapes)
    return shapes


def document_limits(document: DocumentNode, limits: RequestLimits) -> list[GraphQLError]:
    """The refusals of a document by its size, depth and aliases, measured without validating it.

    Size: the fields every operation and every fragment would select with their spreads in
    place, summed (the work execution and the validation rules do grows with it; a fragment no
    operation uses is counted too, since validation still walks it). When the size is over
    the limit nothing else is measured or checked. Depth: per operation. Aliases: summed over
    the operations (a fragment's aliases each time it is spread)."""
    fragments = fragment_shapes(document)
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    shapes = [(op, _shape(op.selection_set, fragments)) for op in operations]
    fields = sum(shape.fields for _, shape in shapes) + sum(s.fields for s in fragments.values())
    if fields > limits.max_fields:
        return [GraphQLError(
            f"The document selects more than {limits.max_fields} fields once its fragments "
            "are spread in place",
            extensions={"code": QUERY_TOO_COMPLEX, "maks": limits.max_fields},
        )]
    errors = [
        GraphQLError(
            f"Operation {op.name.value if op.name else '(anonymous)'!r} nests {shape.depth} "
            f"fields deep; at most {limits.max_depth} are allowed",
            op, extensions={"code": QUERY_TOO_DEEP, "maks": limits.max_depth},
        )
        for op, shape in shapes if shape.depth > limits.max_depth
    ]
    aliases = sum(shape.aliases for _, shape in shapes)
    if aliases > limits.max_aliases:
        errors.append(GraphQLError(
            f"The document uses more than {limits.max_aliases} aliases once its fragments are "
            "spread in place",
            extensions={"code": TOO_MANY_ALIASES, "maks": limits.max_aliases},
        ))
    return errors


class PersonLimit(SchemaExtension):
    """At most `personfelt.maks` person ids per request, summed over every such field (aliases,
    fragments, all operations). Refused before execution, so nothing is looked up."""

    def __init__(self, *, personfelt: Personfelt) -> None:
        self.personfelt = personfelt

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        maks = self.personfelt.maks
        if document is not None and context.result is None:
            total, largest = person_id_counts(
                document.definitions, context.variables or {}, self.personfelt
            )
            # One field over the limit is that field's bad input (BAD_USER_INPUT from the lookup,
            # which refuses before any database work); the sum over fields is this check's.
            if total > maks and largest <= maks:
                context.result = ExecutionResult(data=None, errors=[GraphQLError(
                    f"The request asks for {total} person ids; at most {maks} are allowed "
                    "in one request, however they are spread over fields",
                    extensions={"code": TOO_MANY_PERSONS, "antall": total, "maks": maks},
                )])
        yield


def schema_extensions(personfelt: Personfelt, limits: RequestLimits) -> list[
    Callable[[], SchemaExtension]
]:
    """Factories (not instances: strawberry wants one extension per request). Size, depth and
    aliases are app.api.validation's, checked with the document before any validation rule."""
    return [
        functools.partial(CodedTokensLimiter, max_token_count=limits.max_tokens),
        functools.partial(PersonLimit, personfelt=personfelt),
    ]


# --- counting person ids ------------------------------------------------------------------------


def count_person_ids(
    definitions: Any, variables: Mapping[str, Any], personfelt: Personfelt
) -> int:
    """Distinct ids per person field (as the lookup counts them), summed over the fields each
    operation would run; a fragment counts each time it is spread (memoised, so linear)."""
    return person_id_counts(definitions, variables, personfelt)[0]


def person_id_counts(
    definitions: Any, variables: Mapping[str, Any], personfelt: Personfelt
) -> tuple[int, int]:
    """(the sum over all person fields, the largest single field)."""
    fragments = {d.name.value: d for d in definitions if isinstance(d, FragmentDefinitionNode)}
    total = 0
    largest = 0
    for operation in definitions:
        if not isinstance(operation, OperationDefinitionNode):
            continue
        values: dict[str, Any] = {
            v.variable.name.value: v.default_value for v in operation.variable_definitions or ()
        }
        values.update(variables)
        counter = _Counter(fragments, values, personfelt)
        total += counter.selections(operation.selection_set)
        largest = max(largest, counter.largest)
    return total, largest


class _Counter:
    def __init__(self, fragments: Mapping[str, FragmentDefinitionNode],
                 variables: Mapping[str, Any], personfelt: Personfelt) -> None:
        self.fragments = fragments
        self.personfelt = personfelt
        self.variables = variables
        self.memo: dict[str, int] = {}
        self.largest = 0

    def selections(self, selection_set: SelectionSetNode | None, seen: frozenset[str] = frozenset()
                   ) -> int:
        total = 0
        for node in selection_set.selections if selection_set else ():
            if isinstance(node, FieldNode):
                if node.name.value == self.personfelt.felt:
                    total += self.field(node)
                total += self.selections(node.selection_set, seen)
            elif isinstance(node, InlineFragmentNode):
                total += self.selections(node.selection_set, seen)
            elif isinstance(node, FragmentSpreadNode):
                name = node.name.value
                if name in seen or name not in self.fragments:
                    continue  # cycles and unknown fragments are validation errors already
                if name not in self.memo:
                    fragment = self.fragments[name]
                    self.memo[name] = self.selections(fragment.selection_set, seen | {name})
                total += self.memo[name]
        return total

    def field(self, node: FieldNode) -> int:
        for argument in node.arguments or ():
            if argument.name.value == self.personfelt.argument:
                count = len(set(self.ids(argument.value)))
                self.largest = max(self.largest, count)
                return count
        return 0

    def ids(self, value: ValueNode | Any) -> list[str]:
        """The ids a literal or variable stands for; non-strings are the type check's business."""
        if isinstance(value, VariableNode):
            value = self.variables.get(value.name.value)
        if isinstance(value, ListValueNode):
            return [i for v in value.values for i in self.ids(v)]
        if isinstance(value, StringValueNode):
            return [value.value]
        if isinstance(value, list | tuple):
            if all(type(v) is str for v in value):  # the usual variable: no walk per id
                return list(value)
            return [i for v in value for i in self.ids(v)]
        if isinstance(value, str):
            return [value]
        return []


def persons_in_body(body: bytes, personfelt: Personfelt) -> int:
    """How many person ids a GraphQL request body asks for, counted as PersonLimit counts them
    (for the rate limit, before the request is parsed for real). Unparsable requests count 0:
    GraphQL refuses them without looking anyone up."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return 0
    items = payload if isinstance(payload, list) else [payload]
    total = 0
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("query"), str):
            continue
        try:
            document = parse(item["query"], no_location=True, max_tokens=50_000)
        except GraphQLError:
            continue
        variables = item.get("variables")
        total += count_person_ids(
            document.definitions, variables if isinstance(variables, dict) else {}, personfelt
        )
    return total
