"""An executor that completes a list of plain objects in one pass instead of field by field.

graphql-core resolves and completes every field of every item on its own: for 1000 persons of
21 fields that is ~21,000 resolver calls, info objects and path nodes, and it dominated the
lookup. Here the item type's selection (aliases, fragments, @skip/@include, __typename, as
graphql-core itself collects it) is planned once per list, and each item becomes a dict by
reading the planned attributes and coercing the leaves with the schema's own scalars and enums.

Planning happens only where the result cannot differ from graphql-core's: an object type without
`is_type_of`, fields that are strawberry's plain attribute reads (no resolver, no arguments,
no field extensions), leaf or object types or lists of leaves (no lists of objects, interfaces
or unions below the item), no resolver middleware, no @defer/@stream. Anything unusual in the
data (a null in a non-null field, a value a scalar refuses, an exception or awaitable as a
value, an iterable that is not a list) makes the whole list go back to graphql-core, which
reads the same attributes again and reports the error exactly as it always does.
tests/test_execution_differential.py holds the two executors to that.

One shortcut changes what `ExecutionResult.data` holds, not the response: an aware UTC datetime
of strawberry's DateTime is left as a datetime for the response encoder (orjson, app.edge), which
writes exactly the text `isoformat()` gives (tested), at a tenth of the cost.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from weakref import WeakKeyDictionary, WeakMethod

from graphql import (
    GraphQLEnumType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLResolveInfoHelpers,
    GraphQLString,
    Undefined,
    is_leaf_type,
    is_non_null_type,
    is_object_type,
    is_scalar_type,
)
from graphql.execution.collect_fields import FieldDetails
from graphql.pyutils import Path, gather_with_cancel, is_awaitable
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.types.base_scalars import isoformat
from strawberry.types.field import StrawberryField

from app.api.internals import strawberry_field

FieldDetailsList = list[FieldDetails]
Plan = Callable[[Any], dict[str, Any]]

class _Irregular(Exception):
    """A value the plan does not complete itself: graphql-core completes the list instead."""


def _coerce_or_irregular(coerce: Callable[[Any], Any], value: Any) -> Any:
    coerced = coerce(value)
    if coerced is None or coerced is Undefined:
        raise _Irregular
    return coerced


class _EnumMemo(dict[tuple[type, Any], Any]):
    """An enum's coercion remembered per (type, value): strawberry's scans the enum's values."""

    def __init__(self, coerce: Callable[[Any], Any]) -> None:
        super().__init__()
        self.coerce = coerce

    def __missing__(self, key: tuple[type, Any]) -> Any:
        coerced = self[key] = _coerce_or_irregular(self.coerce, key[1])
        return coerced


class _Step:
    """One response key of an object: a constant (__typename), a leaf or a nested object."""

    __slots__ = ("attribute", "helper", "key", "kind", "non_null")

    def __init__(self, key: str, attribute: str | None, non_null: bool, kind: str,
                 helper: Any) -> None:
        self.key, self.attribute, self.non_null = key, attribute, non_null
        self.kind, self.helper = kind, helper


_ENUM_MEMOS: WeakKeyDictionary[GraphQLEnumType, _EnumMemo] = WeakKeyDictionary()


def _enum_memo(enum_type: GraphQLEnumType) -> _EnumMemo:
    """One memo per enum type of a schema, shared by every request."""
    memo = _ENUM_MEMOS.get(enum_type)
    if memo is None:
        memo = _ENUM_MEMOS[enum_type] = _EnumMemo(enum_type.coerce_output_value)
    return memo


def _leaf(leaf_type: GraphQLOutputType) -> Callable[[Any], Any]:
    """One value of a leaf type as the plan completes it (a step's inline code, as a function
    for the items of a list); raises _Irregular where graphql-core would report an error."""
    if isinstance(leaf_type, GraphQLEnumType):
        memo = _enum_memo(leaf_type)
        return lambda value: memo[type(value), value]
    assert is_leaf_type(leaf_type)
    coerce = leaf_type.coerce_output_value
    if leaf_type is GraphQLString:
        return lambda value: value if type(value) is str else _coerce_or_irregular(coerce,
                                                                                   value)
    if coerce is isoformat:
        return lambda value: (value if type(value) is dt.datetime and value.tzinfo is dt.UTC
                              else _coerce_or_irregular(coerce, value))
    return lambda value: _coerce_or_irregular(coerce, value)


_LEAF_LISTS: WeakKeyDictionary[GraphQLOutputType, dict[bool, Callable[[Any], list[Any]]]] = (
    WeakKeyDictionary()
)


def _leaf_list(leaf_type: GraphQLOutputType, non_null_items: bool) -> Callable[[Any], list[Any]]:
    """A list of a leaf type, completed item by item; one function per type and nullability,
    shared by every request (a plan is compiled once per helper identity)."""
    kept = _LEAF_LISTS.setdefault(leaf_type, {})
    complete = kept.get(non_null_items)
    if complete is None:
        item = _leaf(leaf_type)

        def complete(values: Any) -> list[Any]:
            if type(values) is not list:  # any other iterable: graphql-core's to judge
                raise _Irregular
            if non_null_items:
                if any(value is None for value in values):
                    raise _Irregular
                return [item(value) for value in values]
            return [None if value is None else item(value) for value in values]

        kept[non_null_items] = complete
    return complete


_PLANS: OrderedDict[tuple[Any, ...], Plan] = OrderedDict()
_PLANS_KEPT = 256


def _compiled(steps: list[_Step]) -> Plan:
    """The compiled function for these steps, shared by requests that plan the same selection
    (compiling costs about as much as completing a hundred persons). Helpers are part of the
    key by identity: enum memos and nested plans are themselves shared, scalars belong to the
    schema."""
    key = tuple((s.key, s.attribute, s.non_null, s.kind, id(s.helper) if s.kind != "constant"
                 else s.helper) for s in steps)
    plan = _PLANS.get(key)
    if plan is None:
        plan = _PLANS[key] = _compile(steps)
        if len(_PLANS) > _PLANS_KEPT:
            _PLANS.popitem(last=False)
    else:
        _PLANS.move_to_end(key)
    return plan


def _compile(steps: list[_Step]) -> Plan:
    """One function per planned object: straight-line attribute reads and a dict literal, which
    is several times faster than looping over the steps for each of 1000 items."""
    lines = [
        "def complete(src):",
        "    if src is None or isinstance(src, BaseException):",
        "        raise _Irregular",
    ]
    namespace: dict[str, Any] = {
        "_Irregular": _Irregular, "Undefined": Undefined, "_coerce": _coerce_or_irregular,
        "_datetime": dt.datetime, "_UTC": dt.UTC,
    }
    for i, step in enumerate(steps):
        helper = f"_h{i}"
        namespace[helper] = step.helper
        if step.kind == "constant":
            lines.append(f"    r{i} = {helper}")
            continue
        lines += [
            f"    v = src.{step.attribute}",
            "    if v is None:",
            "        raise _Irregular" if step.non_null else f"        r{i} = None",
            "    else:",
        ]
        if step.kind == "string":  # GraphQLString's coercion returns a str as it is
            lines.append(f"        r{i} = v if type(v) is str else _coerce({helper}, v)")
        elif step.kind == "datetime":  # left to the encoder, which writes the same text
            lines += [
                f"        r{i} = v if type(v) is _datetime and v.tzinfo is _UTC else {helper}(v)",
                f"        if r{i} is None or r{i} is Undefined:",
                "            raise _Irregular",
            ]
        elif step.kind == "enum":
            lines.append(f"        r{i} = {helper}[type(v), v]")
        elif step.kind == "leaf":
            lines += [
                f"        r{i} = {helper}(v)",
                f"        if r{i} is None or r{i} is Undefined:",
                "            raise _Irregular",
            ]
        else:  # a nested object's plan, or a list of leaves
            lines.append(f"        r{i} = {helper}(v)")
    entries = ", ".join(f"{step.key!r}: r{i}" for i, step in enumerate(steps))
    lines.append(f"    return {{{entries}}}")
    exec("\n".join(lines), namespace)
    complete: Plan = namespace["complete"]
    return complete


def _gather(values: Sequence[Awaitable[Any]]) -> Awaitable[list[Any]]:
    """graphql-core's `gather_async_work`, which reads nothing of its execution context."""
    return gather_with_cancel(*values)


def _settle(values: Sequence[Any]) -> None:
    """What `track_async_work` does once its execution context is gone: the awaitables settled
    in the background all the same (nothing awaits that execution's background work now)."""
    awaitables = [value for value in values if is_awaitable(value)]
    if awaitables:
        asyncio.gather(*awaitables, return_exceptions=True)


class _Weakly:
    """An execution context's method, held by a weak reference, with what to do instead once
    the context is gone."""

    __slots__ = ("fallback", "method")

    def __init__(self, method: Callable[[Any], Any], fallback: Callable[[Any], Any]) -> None:
        self.method = WeakMethod(method)
        self.fallback = fallback

    def __call__(self, values: Any) -> Any:
        method = self.method()
        return self.fallback(values) if method is None else method(values)


class AcyclicExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """strawberry's execution context, freed by reference counting when its request ends.

    graphql-core's keeps `async_helpers` (the helpers every resolver's info carries) holding
    its own bound methods: a reference cycle from the context to itself, and through its
    `context_value` and `variable_values` to the request, its body and everything the operation
    built. Only a full collection frees such a cycle, and `krr serve` practically never runs one
    (app.edge.runtime): the worker grew by every request's objects. Here the helpers call the
    methods through weak references; a running resolver's execution is alive anyway (its
    coroutines hold it)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.async_helpers = GraphQLResolveInfoHelpers(
            gather=_Weakly(self.gather_async_work, _gather),
            track=_Weakly(self.track_async_work, _settle),
        )


class PlannedExecutionContext(AcyclicExecutionContext):
    """strawberry's execution context with lists of plain objects completed by a plan."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Like graphql-core's own subfield memo: keyed by the field group's identity, which is
        # kept alive beside the plan so the id cannot be reused during execution.
        self._plans: dict[tuple[GraphQLObjectType, int], tuple[FieldDetailsList, Plan | None]] = {}

    def complete_list_value(
        self,
        return_type: GraphQLList[GraphQLOutputType],
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        plan = self._list_plan(return_type, field_details_list, path, result)
        if plan is not None:
            try:
                return plan(result)
            except Exception:
                pass
        return super().complete_list_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def _list_plan(
        self,
        return_type: GraphQLList[GraphQLOutputType],
        field_details_list: FieldDetailsList,
        path: Path,
        result: Any,
    ) -> Callable[[list[Any]], list[Any]] | None:
        if type(result) is not list:
            return None
        item_type = return_type.of_type
        non_null = isinstance(item_type, GraphQLNonNull)
        inner = item_type.of_type if isinstance(item_type, GraphQLNonNull) else item_type
        if not is_object_type(inner) or self.get_stream_usage(field_details_list, path):
            return None
        item_plan = self._plan(inner, field_details_list)
        if item_plan is None:
            return None
        if non_null:
            return lambda items: [item_plan(item) for item in items]
        return lambda items: [None if item is None else item_plan(item) for item in items]

    def _plan(
        self, object_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> Plan | None:
        key = (object_type, id(field_details_list))
        cached = self._plans.get(key)
        if cached is None:
            cached = (field_details_list, self._build_plan(object_type, field_details_list))
            self._plans[key] = cached
        return cached[1]

    def _plain_execution(self) -> bool:
        manager = self.middleware_manager
        return manager is None or not manager.middlewares

    def _build_plan(
        self, object_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> Plan | None:
        """The plan for `object_type` under these field nodes, or None where graphql-core's
        completion could differ from reading attributes."""
        if object_type.is_type_of is not None or not self._plain_execution():
            return None
        grouped_field_set, defer_usages, *_ = self.collect_subfields(
            object_type, field_details_list
        )
        if defer_usages:
            return None
        steps: list[_Step] = []
        for response_key, sub_details in grouped_field_set.items():
            node = sub_details[0].node
            name = node.name.value
            if name == "__typename":
                steps.append(_Step(response_key, None, True, "constant", object_type.name))
                continue
            field_def = self.schema.get_field(object_type, name)
            if field_def is None:  # graphql-core leaves the key out
                continue
            definition = strawberry_field(field_def)
            if (
                not isinstance(definition, StrawberryField)
                or not getattr(field_def.resolve, "_is_default", False)
                or definition.default_resolver is not getattr
                or not definition.python_name.isidentifier()
                or field_def.args
                or node.arguments
            ):
                return None
            field_type = field_def.type
            non_null = is_non_null_type(field_type)
            inner = field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type
            attribute = definition.python_name
            if inner is GraphQLString:
                step = _Step(response_key, attribute, non_null, "string", inner.coerce_output_value)
            elif isinstance(inner, GraphQLEnumType):
                step = _Step(response_key, attribute, non_null, "enum",
                             _enum_memo(inner))
            elif is_scalar_type(inner) and inner.coerce_output_value is isoformat:
                step = _Step(response_key, attribute, non_null, "datetime", isoformat)
            elif is_leaf_type(inner):
                step = _Step(response_key, attribute, non_null, "leaf", inner.coerce_output_value)
            elif is_object_type(inner):
                nested = self._plan(inner, sub_details)
                if nested is None:
                    return None
                step = _Step(response_key, attribute, non_null, "object", nested)
            elif isinstance(inner, GraphQLList) and is_leaf_type(_unwrapped(inner.of_type)):
                step = _Step(response_key, attribute, non_null, "list", _leaf_list(
                    _unwrapped(inner.of_type), is_non_null_type(inner.of_type)))
            else:  # lists of objects or lists, interfaces and unions: graphql-core's
                return None
            steps.append(step)
        return _compiled(steps)


def _unwrapped(of_type: GraphQLOutputType) -> GraphQLOutputType:
    return of_type.of_type if isinstance(of_type, GraphQLNonNull) else of_type


def without_suggestions(
    executor: type[AcyclicExecutionContext],
) -> type[AcyclicExecutionContext]:
    """`executor`, coercing variables and arguments without suggestions in its errors ("Did
    you mean the enum value 'MOBIL'?"): in prod they would name what introspection hides."""

    class WithoutSuggestions(executor):  # type: ignore[valid-type, misc]  # a base given at run time
        @classmethod
        def build(cls, *args: Any, **kwargs: Any) -> Any:
            return super().build(*args, **{**kwargs, "hide_suggestions": True})

    WithoutSuggestions.__name__ = WithoutSuggestions.__qualname__ = (
        f"{executor.__name__}WithoutSuggestions"
    )
    return WithoutSuggestions
