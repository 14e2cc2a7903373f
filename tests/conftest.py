"""Set before any test module imports refund_core: Powertools reads these when its objects are made."""

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from refund_local.stack import LocalAws

os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "refunds")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "SmartSecurity/Refunds")
# Metrics are flushed as EMF lines on stdout: nothing in the tests reads them.
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")


@pytest.fixture
def stack() -> Iterator["LocalAws"]:
    """A fresh emulated AWS built from template.yaml; the deadline workflow is recorded but not run."""
    # Imported here: the unit tests must not load moto.
    from refund_local.stack import LocalAws  # noqa: PLC0415

    local = LocalAws(execute_state_machine=False).start()
    yield local
    local.stop()
