"""Writes schemas/<detail-type>.json: the JSON Schema of every event's `detail` of RECORDS.md, made from the
models the records function validates with (refund_core.app.record_events). A test fails when they drift:

    .venv/bin/python scripts/generate_schemas.py"""

from __future__ import annotations

import json
from pathlib import Path

from refund_core.app.record_events import detail_schemas

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"


def main() -> None:
    SCHEMAS.mkdir(exist_ok=True)
    for stale in SCHEMAS.glob("*.json"):
        stale.unlink()
    for detail_type, schema in detail_schemas().items():
        (SCHEMAS / f"{detail_type}.json").write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
