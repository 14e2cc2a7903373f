"""Every change the local runner and the tests make to moto's own code, in one place: each module here
replaces or wraps private moto names (docs/local-runner.md "moto's own code, changed").

- `atomic`: DynamoDB calls one at a time, and transactions that check every condition before they write.
- `writes`: every write to a table, told to those that keep something per item (the indexes, the saved state).
- `speed`: queries from their partition, answers and requests as JSON, dispatch, ASL parsing and actions cached.
- `waits`: a Step Functions Wait that ends when its timestamp says, to the millisecond.
- `snapshots`: moto's state copied and put back (the tests provision template.yaml once per process).

They were written against one release of moto, whose private names they use. Importing this package with another
release fails at once, naming both: a newer moto may have moved what they change, and a patch that no longer
fits would fail somewhere far from its cause, or silently change nothing."""

from __future__ import annotations

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
