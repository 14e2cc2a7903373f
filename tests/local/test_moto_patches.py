"""The moto patches refuse a moto they were not written for, with a message that says what to do."""

from __future__ import annotations

import subprocess
import sys

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


def test_the_step_functions_batch_integration_is_loaded_without_batchs_models_and_batch_still_works() -> None:
    """In a process of its own: this one may have loaded moto's Batch models already."""

    program = (
        "import sys, refund_local.moto_patches\n"
        "from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_factory\n"
        "assert 'moto.batch.models' not in sys.modules and 'moto.ec2' not in sys.modules\n"
        "import boto3, moto\n"
        "with moto.mock_aws():\n"
        "    batch = boto3.client('batch', region_name='ap-southeast-1')\n"
        "    assert batch.describe_compute_environments()['computeEnvironments'] == []\n"
    )
    ran = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=False)
    assert ran.returncode == 0, ran.stderr
