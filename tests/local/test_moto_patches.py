"""The moto patches refuse a moto they were not written for, with a message that says what to do."""

from __future__ import annotations

import pytest

from refund_local.moto_patches import WRITTEN_FOR_MOTO, MotoVersionMismatch, check_moto_version


def test_another_moto_release_is_refused_naming_both() -> None:
    with pytest.raises(MotoVersionMismatch) as refused:
        check_moto_version("5.3.0")
    message = str(refused.value)
    assert "moto 5.3.0 is installed" in message
    assert f"written for moto {WRITTEN_FOR_MOTO}" in message
    assert f"moto=={WRITTEN_FOR_MOTO}" in message


def test_the_release_they_were_written_for_is_taken() -> None:
    check_moto_version(WRITTEN_FOR_MOTO)
