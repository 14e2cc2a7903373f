"""Every change the local runner and the tests make to moto's own code, in one place: each module here
replaces or wraps private moto names (docs/local-runner.md "moto's own code, changed").

- `atomic`: DynamoDB calls one at a time, and transactions that check every condition before they write.
- `writes`: every write to a table, told to those that keep something per item (the indexes, the saved state).
- `speed`: queries from their partition, answers and requests as JSON, dispatch, ASL parsing and actions cached.
- `waits`: a Step Functions Wait that ends when its timestamp says, to the millisecond.
- `snapshots`: moto's state copied and put back (the tests provision template.yaml once per process).
- here: the Step Functions parser's Batch integration loaded without moto's Batch models (below).

They were written against one release of moto, whose private names they use. Importing this package with another
release fails at once, naming both: a newer moto may have moved what they change, and a patch that no longer
fits would fail somewhere far from its cause, or silently change nothing."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from importlib.metadata import version

WRITTEN_FOR_MOTO = "5.2.5"


class MotoVersionMismatch(ImportError):
    """The installed moto is not the release these patches were written for."""


def check_moto_version(installed: str) -> None:
    """Raises MotoVersionMismatch unless `installed` is the release the patches were written for."""
    if installed != WRITTEN_FOR_MOTO:
        raise MotoVersionMismatch(
            f"refund_local.moto_patches was written for moto {WRITTEN_FOR_MOTO}, and moto {installed} is installed: "
            f"install moto=={WRITTEN_FOR_MOTO} (pyproject.toml pins it), or check each patch against the new release "
            "before changing WRITTEN_FOR_MOTO"
        )


check_moto_version(version("moto"))


# moto's ASL parser imports every service integration when it is first loaded; its Batch integration imports
# `moto.batch`, whose models import EC2's, ECS's and more: about 1.5 s of every process that runs a state
# machine (each test worker, each start of the local runner). The integration uses only `moto.batch.utils`,
# and the service has no Batch task.
_BATCH_INTEGRATION = "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_batch"


def _load_batch_integration_without_batch_models() -> None:
    """Loads the Batch integration with `moto.batch` standing for a package that runs nothing on import (its
    modules are read from moto's folder as they are asked for), then forgets that stand-in: an import of
    `moto.batch` later (a Batch backend) runs moto's own package, which finds the modules already loaded."""
    if _BATCH_INTEGRATION in sys.modules or "moto.batch" in sys.modules:
        return
    spec = importlib.util.find_spec("moto.batch")
    if spec is None or spec.submodule_search_locations is None:
        return
    stand_in = types.ModuleType("moto.batch")
    stand_in.__path__ = list(spec.submodule_search_locations)
    stand_in.__spec__ = spec
    sys.modules["moto.batch"] = stand_in
    try:
        importlib.import_module(_BATCH_INTEGRATION)
    finally:
        del sys.modules["moto.batch"]
        import moto  # noqa: PLC0415 - the parent the import system told of its new submodule

        if getattr(moto, "batch", None) is stand_in:
            delattr(moto, "batch")


_load_batch_integration_without_batch_models()
