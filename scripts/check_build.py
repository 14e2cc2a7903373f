"""What `sam build` made is what a cold start should load (make deploy-check): every module of the layer
precompiled to an unchecked-hash .pyc (Lambda's /opt is read-only: a missing one is compiled at every cold start,
and a timestamp-checked one is checked against sources whose dates the zip does not keep), and no second
botocore (the runtime's is the one). Prints the counts; exits 1 with what is wrong.

    python scripts/check_build.py .aws-sam/build"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

UNCHECKED_HASH = 0b01  # PEP 552: hash-based, check_source off


def problems(build: Path) -> tuple[int, list[str]]:
    site = build / "RefundCoreLayer" / "python"
    found: list[str] = []
    if not site.is_dir():
        return 0, [f"{site} is not there: run sam build"]
    if (site / "botocore").exists():
        found.append("the layer ships botocore: the runtime has one")
    sources = sorted(site.rglob("*.py"))
    for source in sources:
        compiled = Path(importlib.util.cache_from_source(str(source)))
        if not compiled.exists():
            found.append(f"{source.relative_to(site)} has no .pyc")
        elif int.from_bytes(compiled.read_bytes()[4:8], "little") != UNCHECKED_HASH:
            found.append(f"{source.relative_to(site)}'s .pyc is checked against its source")
    return len(sources), found


def main(argv: list[str]) -> int:
    count, found = problems(Path(argv[1] if len(argv) > 1 else ".aws-sam/build"))
    for problem in found[:20]:
        print(f"check_build: {problem}")
    print(f"check_build: {count} modules in the layer, {len(found)} problem(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
