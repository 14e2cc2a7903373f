"""moto 5.2.5's DynamoDB at the cost of what a call asks for, not of what the tables hold; nothing a caller sees
changes (tests/integration/test_local_stack_moto.py compares the answers with moto's own).

- Queries. moto's `Table.query` starts from `all_items()`, every item of the table sorted by key, then keeps those of the
partition asked for: each query of one request's items, one customer's claims or the reviewers' queue sorts the
whole table (60,000 items at 10,000 requests, half a second). Here a query of the table starts from the
partition's own items, and a query of an index from the items holding the index's partition key value, found
through a map kept per index; moto then sorts, pages, filters and projects them as before. The map of an index is built at its first query and then kept up to date: each write (refund_local.moto_patches.writes)
files the item written under its value again.
- Responses. moto 5.2 writes every answer through a serializer that walks botocore's output shape value by value:
  a page of 20 requests (their facts, assessment and decision are deep maps) took half a second of the
  emulator's time. DynamoDB's item operations and its stream's records answer in the JSON their results
  already are, so those are written with `json.dumps` (a time as moto's serializer writes it); anything else,
  an error, or a value JSON cannot hold (a binary attribute's bytes) still goes through moto's serializer.
  Clients read the same answers; the bytes differ where moto's result holds more than its output shape
  (DeleteItem's `ConsumedCapacityUnits`, which botocore ignores), and a binary value in a stream record's
  image is base64 once, as AWS sends it (moto's serializer encoded it twice; nothing here stores binary).
- Requests. moto 5.2 reads every request through a parser that walks botocore's input shape value by value
  (a sixteenth of the emulator's time under load); for DynamoDB's item operations that gives what
  `json.loads` of the body gives, except for a binary attribute's base64, which it decodes: a body without
  one is read as JSON.
- Dispatch. moto's server finds the service of every request by its host, listing the folders of moto's own
  package (about 200 `isdir` calls) under a lock that every request takes: a tenth of the emulator's time
  under load. The answer for a host never changes, so it is remembered.
- Step Functions. moto parses a state machine's definition (and each intrinsic function in it) with ANTLR and
  builds its evaluation components from the parse tree for every execution it starts: a fifth of the
  emulator's time under load, one execution per pending request. Each text is parsed once; every execution
  gets components of its own, a deep copy of those first built, kept before they were evaluated.
- Actions. moto finds each request's action among its handler class's functions with `inspect.getmembers`;
  the list of a class's functions is kept.
- Update expressions. Each of the ten traversals that validate one builds its processing map again at every
  node to learn which node types it processes; those are kept per processor class. Two of them (at most one
  SET, REMOVE and ADD clause; no path set twice) check every clause and action node against all the clauses or
  actions below it: quadratic in the expression's length (an order's facts set twenty attributes), a fifth of
  writing the races' seed. Those two check the root once: what lies below a node is part of what lies below the root, so
  if the root passes, every node does. If it does not, moto's own traversal runs and raises its own error.
  An update expression's text is parsed once (moto parsed it twice per call): each validation deep-copies the
  tree before it changes anything, and the other readers only read it.
  That copy is made by pickling the tree and reading it back (a C round trip, a quarter of `copy.deepcopy`'s
  time: 1.1 ms for an order's twenty attributes, a twentieth of a test's time), which copies the same graph.
- Index projections. moto projects each item an index query finds by converting the whole item to plain JSON
  once per attribute the index keeps (INCLUDE: the keys and its NonKeyAttributes): 38 ms an item for the
  ByReceived index, most of a year's decisions export. A projection of whole top-level attributes (what an
  index asks for) converts the item once; any other (a nested path, a list element) goes through moto's own."""

from __future__ import annotations

import copy
import functools
import inspect
import json
import pickle
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from moto.core import responses as moto_responses
from moto.core.responses import ActionResult
from moto.core.serialize import TimestampSerializer
from moto.dynamodb.models.dynamo_type import DynamoType, Item, serializer
from moto.dynamodb.models.table import Table
from moto.dynamodb.parsing import validators
from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser, UpdateExpression  # type: ignore[attr-defined]
from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]
from moto.dynamodb.parsing.validators import ActionCountValidator, OverlappingPathsValidator
from moto.dynamodb.responses import DynamoHandler, DynamoResult
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.parse.intrinsic.intrinsic_parser import IntrinsicParser

from refund_local.moto_patches import writes
from refund_local.moto_patches.writes import Key

_PATCHED = "_refund_local_partitions"
_MAPS = "_refund_local_index_maps"
_KEY_TYPES = frozenset({"S", "N", "B"})


class _IndexMap:
    """A table's items by their value of one attribute (an index's partition key), and where each is filed."""

    def __init__(self, table: Table, attribute: str) -> None:
        self.attribute = attribute
        self.by_value: defaultdict[DynamoType, dict[Key, Item]] = defaultdict(dict)
        self.filed_under: dict[Key, DynamoType] = {}
        for partition in table.items.values():
            for item in writes.items_of(partition):
                self.file((item.hash_key, item.range_key), item)

    def file(self, key: Key, item: Item | None) -> None:
        before = self.filed_under.pop(key, None)
        if before is not None:
            bucket = self.by_value[before]
            bucket.pop(key, None)
            if not bucket:
                del self.by_value[before]
        value = item.attrs.get(self.attribute) if item is not None else None
        # Only a string, number or binary can be a key; moto stores any type, and matches none of the others.
        if value is not None and item is not None and value.type in _KEY_TYPES:
            self.by_value[value][key] = item
            self.filed_under[key] = value


def _maps(table: Table) -> dict[str, _IndexMap]:
    maps: dict[str, _IndexMap] = table.__dict__.setdefault(_MAPS, {})
    return maps


def _refile(table: Table, key: Key) -> None:
    maps = _maps(table)
    if maps:
        item = writes.current(table, key)
        for index_map in maps.values():
            index_map.file(key, item)


def _index_map(table: Table, attribute: str) -> _IndexMap:
    maps = _maps(table)
    if attribute not in maps:
        maps[attribute] = _IndexMap(table, attribute)
    return maps[attribute]


def _index_hash_attribute(table: Table, index_name: str) -> str | None:
    for index in [*table.global_indexes, *table.indexes]:
        if index.name == index_name:
            return next((key["AttributeName"] for key in index.schema if key["KeyType"] == "HASH"), None)
    return None  # moto answers an unknown index with its own error


def _candidates(table: Table, hash_key: Any, index_name: str | None) -> list[Item] | None:
    """The items moto would keep of `all_items()` (a superset is enough: it checks them), or None for all."""
    if index_name is None:
        return list(writes.items_of(table.items[hash_key])) if hash_key in table.items else []
    attribute = _index_hash_attribute(table, index_name)
    if attribute is None or hash_key is None:
        return None
    return list(_index_map(table, attribute).by_value.get(hash_key, {}).values())


def _partition_query(query: Callable[..., Any]) -> Callable[..., Any]:
    signature = inspect.signature(query)

    @functools.wraps(query)
    def query_the_partition(self: Table, *args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(self, *args, **kwargs).arguments
        candidates = _candidates(self, bound["hash_key"], bound.get("index_name"))
        if candidates is None:
            return query(self, *args, **kwargs)
        # Calls reach a table one at a time (refund_local.moto_patches.atomic), so shadowing the method for this one is safe.
        self.all_items = lambda: candidates  # type: ignore[method-assign]
        try:
            return query(self, *args, **kwargs)
        finally:
            del self.all_items

    setattr(query_the_partition, _PATCHED, True)
    return query_the_partition


# The item operations, and the stream's records, whose results moto builds as the wire's JSON already.
_AS_JSON = frozenset(
    {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem", "BatchWriteItem"}
    | {"TransactGetItems", "TransactWriteItems", "GetRecords"}
)
_CONTENT_TYPE = "application/x-amz-json-1.0"  # DynamoDB's and its streams' protocol: json, version 1.0


def _epoch(value: object) -> int | float:
    """A time as moto's serializer writes it (its own conversion), else TypeError: moto's serializer it is."""
    if not isinstance(value, datetime):
        raise TypeError(type(value).__name__)
    return TimestampSerializer._timestamp_unixtimestamp(value)


def _json_answers(serialized: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(serialized)
    def as_json(self: Any, action_result: ActionResult) -> Any:
        result = action_result.result
        plain = type(action_result) in {ActionResult, DynamoResult}  # not a paginated one: moto pages it
        if plain and isinstance(result, dict) and self._get_action() in _AS_JSON:
            try:
                body = json.dumps(result, separators=(",", ":"), default=_epoch)
            except TypeError:
                pass  # bytes of a binary attribute: moto's serializer encodes them
            else:
                return 200, {"Content-Type": _CONTENT_TYPE, **self.response_headers}, body
        return serialized(self, action_result)

    return as_json


def _json_requests(parse_parameters: Callable[..., None]) -> Callable[..., None]:
    """DynamoDB's item operations read with `json.loads` where moto's parser, walking botocore's input shape
    value by value, gives the same: a body of JSON with no binary attribute (whose base64 moto decodes). The
    other operations, some with times and doubles that moto's parser converts, still go through it."""

    @functools.wraps(parse_parameters)
    def parse_as_json(self: Any, request: Any) -> None:
        body = request.data
        if body and self._get_action() in _AS_JSON and b'"B":' not in body and b'"BS":' not in body:
            try:
                self.params = json.loads(body)
            except ValueError:
                pass  # moto's parser answers what a malformed body gets
            else:
                return
        parse_parameters(self, request)

    return parse_as_json


def _remembered(get_backend_for_host: Callable[..., Any]) -> Callable[..., Any]:
    found: dict[str | None, Any] = {}

    @functools.wraps(get_backend_for_host)
    def backend_for_host(self: DomainDispatcherApplication, host: str | None) -> Any:
        if host not in found:
            found[host] = get_backend_for_host(self, host)
        return found[host]

    return backend_for_host


def _programs_kept(parse: Callable[[str], tuple[Any, Any]]) -> Any:
    """`parse(text)` once per text; later, a deep copy of the components it built, kept before any evaluation
    (an evaluation keeps its state in its environment and in objects it creates, not in the components; a copy
    is what building them again from the parse tree gives, in less than half the time)."""
    kept: dict[str, tuple[Any, Any]] = {}

    def parse_once(text: str) -> tuple[Any, Any]:
        if text not in kept:
            components, tree = parse(text)
            kept[text] = (copy.deepcopy(components), tree)
            return components, tree
        pristine, tree = kept[text]
        return copy.deepcopy(pristine), tree

    return staticmethod(parse_once)


def _names_kept(method_names_from_class: Callable[[object], list[str]]) -> Callable[[object], list[str]]:
    """moto looks up each request's action among its handler class's functions with `inspect.getmembers`, a
    thirtieth of the emulator's time; a class's functions are the same at every request."""
    return functools.cache(method_names_from_class)


def _node_types_kept() -> Callable[[DepthFirstTraverser], tuple[type, ...]]:
    """moto validates an update expression with ten traversals of its tree, and each asks its processing map for
    the node types it processes at every node, building the map again; a processor class's types are fixed."""
    kept: dict[type, tuple[type, ...]] = {}

    def nodes_to_be_processed(self: DepthFirstTraverser) -> tuple[type, ...]:
        found = kept.get(type(self))
        if found is None:
            found = kept[type(self)] = tuple(self._processing_map())
        return found

    return nodes_to_be_processed


def _root_checked(traverse: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """A validator whose check holds at every node if it holds at the root (see the module's docstring) checks
    the root alone; moto's traversal of every node, where it fails there, raises the error moto raises."""

    @functools.wraps(traverse)
    def check_the_root(self: DepthFirstTraverser, node: Any) -> Any:
        if not isinstance(node, UpdateExpression):
            return traverse(self, node)
        try:
            self.process(node)
        except Exception:  # moto's own traversal raises what moto raises
            return traverse(self, node)
        return node

    return check_the_root


# Distinct update expressions the service writes: a few dozen; the bound keeps a generated load's from growing it.
_PARSED_EXPRESSIONS = 1024


def _parsed_once(make: Callable[[type, str], Any]) -> Any:
    """`UpdateExpressionParser.make(text)` once per text (a parse that fails raises again each time)."""
    parsed = functools.lru_cache(maxsize=_PARSED_EXPRESSIONS)(make)

    @functools.wraps(make)
    def make_once(cls: type, expression: str) -> Any:
        return parsed(cls, expression)

    return classmethod(make_once)


def _converted_once(project: Callable[[Item, list[list[str]]], Item]) -> Callable[[Item, list[list[str]]], Item]:
    """`Item.project` of top-level attributes from one plain-JSON conversion of the item (see the docstring)."""

    @functools.wraps(project)
    def project_from_one_conversion(self: Item, projection_expressions: list[list[str]]) -> Item:
        if any(len(path) != 1 or "[" in path[0] for path in projection_expressions):
            return project(self, projection_expressions)
        plain = self.to_regular_json()
        kept = {name: plain[name] for (name,) in projection_expressions if name in plain}
        return Item(hash_key=self.hash_key, range_key=self.range_key, attrs=dict(serializer.serialize(kept)["M"]))

    return project_from_one_conversion


def _copied_through_pickle(value: Any) -> Any:
    """A deep copy (the same graph, shared objects shared once), as `copy.deepcopy` makes, in a quarter of its time.
    moto copies an expression tree or an attribute's value here, both picklable."""
    return pickle.loads(pickle.dumps(value, pickle.HIGHEST_PROTOCOL))  # noqa: S301 - bytes this function made


def make_moto_fast() -> None:
    """Idempotent; process-wide, like moto's own patching."""
    if getattr(Table.query, _PATCHED, False):
        return
    for handler in (DynamoHandler, DynamoDBStreamsHandler):
        handler.serialized = _json_answers(handler.serialized)  # type: ignore[method-assign]
    DynamoHandler.parse_parameters = _json_requests(DynamoHandler.parse_parameters)  # type: ignore[method-assign]
    AmazonStateLanguageParser.parse = _programs_kept(AmazonStateLanguageParser.parse)  # type: ignore[method-assign]
    IntrinsicParser.parse = _programs_kept(IntrinsicParser.parse)  # type: ignore[method-assign]
    DepthFirstTraverser.nodes_to_be_processed = _node_types_kept()
    for validator in (ActionCountValidator, OverlappingPathsValidator):
        validator.traverse = _root_checked(validator.traverse)
    UpdateExpressionParser.make = _parsed_once(UpdateExpressionParser.make.__func__)
    validators.deepcopy = _copied_through_pickle  # type: ignore[attr-defined,assignment]
    moto_responses.method_names_from_class = _names_kept(moto_responses.method_names_from_class)  # type: ignore[attr-defined,assignment]
    DomainDispatcherApplication.get_backend_for_host = _remembered(  # type: ignore[method-assign]
        DomainDispatcherApplication.get_backend_for_host
    )
    Item.project = _converted_once(Item.project)  # type: ignore[method-assign,assignment]
    Table.query = _partition_query(Table.query)  # type: ignore[method-assign]
    writes.on_write(_refile)
