"""`make lint`: no module of the layer longer than its limit (docs/design.md): a module that grows past it is
doing two things, and is split by concern before it lands."""

from __future__ import annotations

import sys
from pathlib import Path

LIMIT = 400


def main(root: str = "layers/refund_core/refund_core") -> int:
    too_long = [
        (path, count)
        for path in sorted(Path(root).rglob("*.py"))
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > LIMIT
    ]
    for path, count in too_long:
        print(f"{path}: {count} lines, over the {LIMIT} a module of the layer may have")
    return 1 if too_long else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
