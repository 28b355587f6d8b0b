"""GraphQL's request limits: each refuses with its own code before any work beyond the check.

- body size and batched (array) bodies: at the edge (app.edge), before the token is verified;
- tokens: while parsing (graphql-core stops counting at the maximum);
- depth and aliases: validation rules;
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
    ASTValidationRule,
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
    ValidationContext,
    ValueNode,
    VariableNode,
    parse,
)
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)

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
    max_body_bytes: int = MAX_BODY_BYTES


# --- GraphQL ------------------------------------------------------------------------------------


def _coded(rule: type[ASTValidationRule], code: str) -> type[ASTValidationRule]:
    """The rule with `code` on every error it reports, so clients can branch on it. Strawberry's
    depth and alias rules report everything from __init__, so that is where errors are caught."""

    class Coded(rule):  # type: ignore[valid-type, misc]  # a base given at run time
        def __init__(self, context: ValidationContext) -> None:
            report = context.report_error

            def with_code(error: GraphQLError) -> None:
                error.extensions = {**(error.extensions or {}), "code": code}
                report(error)

            # Swapped for this rule's __init__ only, and restored below.
            context.report_error = with_code  # type: ignore[method-assign]
            try:
                super().__init__(context)
            finally:
                del context.report_error  # back to the class's method

    return Coded


def _coded_rules(extension: AddValidationRules, code: str) -> list[type[ASTValidationRule]]:
    return [_coded(rule, code) for rule in extension.validation_rules]


class CodedTokensLimiter(MaxTokensLimiter):
    """Strawberry's token limit (the parser gives up at the maximum), with a code added."""

    def on_parse(self) -> Iterator[None]:
        yield
        for error in self.execution_context.pre_execution_errors or ():
            if isinstance(error, GraphQLSyntaxError) and "tokens. Parsing aborted" in error.message:
                error.extensions = {**(error.extensions or {}), "code": TOO_MANY_TOKENS}


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


def schema_extensions(
    limits: RequestLimits, personfelt: Personfelt
) -> list[Callable[[], SchemaExtension]]:
    """Factories (not instances: strawberry wants one extension per request). The depth and
    alias rules are made once here, so every request validates with the same rule classes
    and strawberry's validation cache (keyed by them) serves repeated queries."""
    rules = [
        *_coded_rules(QueryDepthLimiter(max_depth=limits.max_depth), QUERY_TOO_DEEP),
        *_coded_rules(MaxAliasesLimiter(max_alias_count=limits.max_aliases), TOO_MANY_ALIASES),
    ]
    return [
        functools.partial(CodedTokensLimiter, max_token_count=limits.max_tokens),
        functools.partial(AddValidationRules, rules),
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
