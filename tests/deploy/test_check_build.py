"""scripts/check_build.py tells a layer a cold start compiles from source from one it loads as built."""

from __future__ import annotations

import importlib.util
import py_compile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("check_build", REPO / "scripts" / "check_build.py")
assert _spec is not None and _spec.loader is not None
check_build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_build)


def _layer(tmp_path: Path, *modules: str) -> Path:
    site = tmp_path / "RefundCoreLayer" / "python"
    for module in modules:
        (site / module).parent.mkdir(parents=True, exist_ok=True)
        (site / module).write_text("VALUE = 1\n", encoding="utf-8")
    return site


def test_a_layer_precompiled_unchecked_and_without_botocore_passes(tmp_path: Path) -> None:
    site = _layer(tmp_path, "refund_core/__init__.py", "pydantic/main.py")
    for source in site.rglob("*.py"):
        py_compile.compile(str(source), invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    assert check_build.problems(tmp_path) == (2, [])


def test_missing_or_timestamp_checked_bytecode_and_a_second_botocore_are_each_named(tmp_path: Path) -> None:
    site = _layer(tmp_path, "refund_core/__init__.py", "refund_core/rules.py", "botocore/__init__.py")
    py_compile.compile(
        str(site / "refund_core" / "rules.py"), invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP
    )
    count, found = check_build.problems(tmp_path)
    assert count == 3
    assert "the layer ships botocore: the runtime has one" in found
    assert "refund_core/__init__.py has no .pyc" in found
    assert "refund_core/rules.py's .pyc is checked against its source" in found
