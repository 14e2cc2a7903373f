"""`--data-dir DIR`: the local runner's state kept across restarts (API.md "The local runner's state").

DIR holds `refund-local.json` (the format and the tables' keys it was written for) and `state/`: every item
of every table of the template (requests, history, claims, customer records, idempotency records) as
DynamoDB JSON lines, and the outbox. It is written whole into `state.new/` and then put in place of
`state/`, so a crash while saving leaves the previous state; it is saved every few seconds while
anything changes and when `serve` stops. A folder written for other tables, or by another format, is
refused before anything is read; a folder that is neither empty nor refund-local's is refused too.

The items are read from and written into moto's tables directly (this is the emulator's own state), with the
tables' streams off while they are restored: restoring through the API would emit a stream record, hence an
email, for every item. Each item's line is kept between saves, and a save writes again only the items written
since the last one (refund_local.moto_patches.writes tells which): at 10,000 requests, serializing every item each time held
every DynamoDB call back for seconds."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from moto.dynamodb.models.dynamo_type import Item
from moto.dynamodb.models.table import Table

from refund_local.environment import REGION
from refund_local.moto_patches import writes
from refund_local.moto_patches.atomic import exclusive
from refund_local.provision import Template

FORMAT = 1
MARKER = "refund-local.json"
OUTBOX_FILE = "outbox.jsonl"
_COMPLETE = "COMPLETE"


class IncompatibleState(ValueError):
    """DIR holds something this runner must not read; the message says what, and what to do."""


def _key_schemas(template: Template) -> dict[str, Any]:
    return {
        logical_id: resource["Properties"]["KeySchema"]
        for logical_id, resource in template.get("Resources", {}).items()
        if resource.get("Type") == "AWS::DynamoDB::Table"
    }


def _dynamodb_backend() -> Any:
    from moto.core.models import DEFAULT_ACCOUNT_ID  # noqa: PLC0415 - moto's own state, in this process
    from moto.dynamodb.models import dynamodb_backends  # noqa: PLC0415

    return dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION]


def _line(row: dict[str, Any]) -> str:
    return json.dumps(row, separators=(",", ":")) + "\n"


def _item_line(item: Item) -> str:
    return _line(item.to_json()["Attributes"])


def _write_lines(path: Path, lines: Iterator[str]) -> None:
    with path.open("w", encoding="utf-8") as file:
        file.writelines(lines)
        file.flush()
        os.fsync(file.fileno())


def _read_lines(path: Path) -> Iterator[dict[str, Any]]:
    if not path.exists():
        return
    with path.open(encoding="utf-8") as file:
        for line in file:
            if line.strip():
                yield json.loads(line)


def put_unchanged(logical_id: str, items: Iterator[dict[str, Any]]) -> Iterator[tuple[Item, dict[str, Any]]]:
    """Each item (DynamoDB JSON) put into the emulated table as it is, with what moto stored. Items restored or
    loaded are no changes: no stream records (moto makes each a copy of its item; at 10,000 requests a restore
    took minutes)."""
    backend = _dynamodb_backend()
    with exclusive():
        table = backend.get_table(logical_id)
        stream, table.stream_shard = table.stream_shard, None
        try:
            for item in items:
                yield backend.put_item(logical_id, item), item
        finally:
            table.stream_shard = stream


class DataDir:
    def __init__(self, path: Path, template: Template) -> None:
        self.path = path
        self._schemas = _key_schemas(template)
        self._state = path / "state"
        self._new = path / "state.new"
        # Per table, each item's line by its key, once they cover every item; the keys written since.
        self._lines: dict[str, dict[writes.Key, str]] = {}
        self._written: defaultdict[str, set[writes.Key]] = defaultdict(set)
        writes.on_write(self._on_write)

    def _on_write(self, table: Table, key: writes.Key) -> None:
        if table.name in self._lines:
            self._written[table.name].add(key)

    def open(self, reset: bool) -> bool:
        """Makes DIR ready; True when it holds a saved state to restore. Raises IncompatibleState."""
        if reset and self.path.exists():
            if any(self.path.iterdir()) and not (self.path / MARKER).exists():
                raise IncompatibleState(f"{self.path} holds no {MARKER}: --reset empties only refund-local's state")
            shutil.rmtree(self.path)
        self.path.mkdir(parents=True, exist_ok=True)
        if not any(self.path.iterdir()):
            return False
        self._check_ours()
        if not (self._state / _COMPLETE).exists() and (self._new / _COMPLETE).exists():
            self._new.rename(self._state)  # a save that stopped between its two renames
        return (self._state / _COMPLETE).exists()

    def _check_ours(self) -> None:
        marker = self.path / MARKER
        if not marker.exists():
            if any(self.path.iterdir()):
                raise IncompatibleState(
                    f"{self.path} is not empty and holds no {MARKER}: it is not refund-local's state; "
                    "name an empty or new folder"
                )
            return
        try:
            written = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise IncompatibleState(f"{marker} cannot be read ({error}); --reset empties {self.path}") from error
        if written.get("format") != FORMAT:
            raise IncompatibleState(
                f"{self.path} holds state of format {written.get('format')!r}; this refund-local reads format "
                f"{FORMAT}: --reset empties it (its requests are lost), or use another --data-dir"
            )
        if written.get("tables") != self._schemas:
            raise IncompatibleState(
                f"{self.path} was written for other tables ({', '.join(sorted(written.get('tables') or {}))}) than "
                f"template.yaml's ({', '.join(sorted(self._schemas))}): --reset empties it, or use another --data-dir"
            )

    def restore(self) -> list[dict[str, Any]]:
        """Every saved item back into its table; returns the saved outbox."""
        with exclusive():  # no write between an item restored and its line kept (the lock is re-entrant)
            for logical_id in self._schemas:
                self._lines[logical_id] = {
                    (stored.hash_key, stored.range_key): _line(item)
                    for stored, item in put_unchanged(logical_id, _read_lines(self._state / f"{logical_id}.jsonl"))
                }
        return list(_read_lines(self._state / OUTBOX_FILE))

    def _current_lines(self) -> dict[str, list[str]]:
        """Every item's line, per table; under the lock, only the items written since the last save are
        serialized (all of them the first time)."""
        backend = _dynamodb_backend()
        with exclusive():
            for logical_id in self._schemas:
                table = backend.get_table(logical_id)
                lines = self._lines.get(logical_id)
                if lines is None:
                    self._lines[logical_id] = {
                        (item.hash_key, item.range_key): _item_line(item) for item in table.all_items()
                    }
                    continue
                for key in self._written.pop(logical_id, set()):
                    item = writes.current(table, key)
                    if item is None:
                        lines.pop(key, None)
                    else:
                        lines[key] = _item_line(item)
            return {logical_id: list(lines.values()) for logical_id, lines in self._lines.items()}

    def save(self, outbox: list[dict[str, Any]]) -> None:
        if self._new.exists():
            shutil.rmtree(self._new)
        self._new.mkdir()
        for logical_id, lines in self._current_lines().items():
            _write_lines(self._new / f"{logical_id}.jsonl", iter(lines))
        _write_lines(self._new / OUTBOX_FILE, (_line(message) for message in outbox))
        (self._new / _COMPLETE).write_text(datetime.now(UTC).isoformat(), encoding="utf-8")
        marker = {"format": FORMAT, "tables": self._schemas, "savedAt": datetime.now(UTC).isoformat()}
        (self.path / MARKER).write_text(json.dumps(marker, indent=2), encoding="utf-8")
        old = self.path / "state.old"
        if old.exists():
            shutil.rmtree(old)
        if self._state.exists():
            self._state.rename(old)
        self._new.rename(self._state)
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(old)
