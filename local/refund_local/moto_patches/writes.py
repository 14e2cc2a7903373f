"""Every write to moto's DynamoDB tables in this process, told to whoever needs to know (refund_local.moto_patches.speed's
index maps, refund_local.state's saver): each reaches moto's `Table.put_item`, `Table.delete_item` or
`DynamoDBBackend.update_item` (which changes the item in place; a new one it puts first), whether it comes from
an API call, a transaction's item, a batch, or the runner's own restore."""

from __future__ import annotations

import functools
import inspect
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from moto.dynamodb.exceptions import ResourceNotFoundException
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table

Key = tuple[DynamoType, DynamoType | None]
Listener = Callable[[Table, Key], None]
# A bound method is held weakly: a data dir of a test gone stops listening.
_listeners: list[Callable[[], Listener | None]] = []
_PATCHED = "_refund_local_writes"


def items_of(partition: Any) -> Iterable[Item]:
    """A partition of a table with a sort key is a dict of its items; without one, the item itself."""
    return partition.values() if isinstance(partition, dict) else (partition,)


def current(table: Table, key: Key) -> Item | None:
    """The item stored under `key` now, if any."""
    hash_key, range_key = key
    partition = table.items.get(hash_key)
    if partition is None:
        return None
    if isinstance(partition, dict):
        return partition.get(range_key)
    return partition


def key_of(table: Table, attributes: dict[str, Any]) -> Key | None:
    """The key of an item (or of a `Key` argument) as moto stores it; None when a key attribute is missing."""
    if table.hash_key_attr not in attributes:
        return None
    range_key = None
    if table.range_key_attr is not None:
        if table.range_key_attr not in attributes:
            return None
        range_key = DynamoType(attributes[table.range_key_attr])
    return DynamoType(attributes[table.hash_key_attr]), range_key


def _written(table: Table, key: Key | None) -> None:
    if key is not None:
        for reference in list(_listeners):
            listener = reference()
            if listener is None:
                _listeners.remove(reference)
            else:
                listener(table, key)


def _after_put(put_item: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(put_item)
    def and_tell(self: Table, item_attrs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return put_item(self, item_attrs, *args, **kwargs)
        finally:
            _written(self, key_of(self, item_attrs))

    return and_tell


def _after_delete(delete_item: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(delete_item)
    def and_tell(self: Table, hash_key: DynamoType, range_key: DynamoType | None) -> Any:
        try:
            return delete_item(self, hash_key, range_key)
        finally:
            _written(self, (hash_key, range_key))

    return and_tell


def _after_update(update_item: Callable[..., Any]) -> Callable[..., Any]:
    signature = inspect.signature(update_item)

    @functools.wraps(update_item)
    def and_tell(self: DynamoDBBackend, *args: Any, **kwargs: Any) -> Any:
        try:
            return update_item(self, *args, **kwargs)
        finally:
            arguments = signature.bind(self, *args, **kwargs).arguments
            try:
                table = self.get_table(arguments["table_name"])  # by name or by ARN, as moto finds it
            except ResourceNotFoundException:
                pass  # the update itself failed on it
            else:
                _written(table, key_of(table, arguments["key"]))

    return and_tell


def on_write(listener: Listener) -> None:
    """`listener(table, key)` after each write, failed or not (it reads what is stored). Idempotent."""
    if not getattr(Table.put_item, _PATCHED, False):
        for owner, name, wrap in (
            (Table, "put_item", _after_put),
            (Table, "delete_item", _after_delete),
            (DynamoDBBackend, "update_item", _after_update),
        ):
            wrapped = wrap(getattr(owner, name))
            setattr(wrapped, _PATCHED, True)
            setattr(owner, name, wrapped)
    if any(reference() == listener for reference in _listeners):
        return
    if inspect.ismethod(listener):
        _listeners.append(weakref.WeakMethod(listener))
    else:
        _listeners.append(lambda: listener)
