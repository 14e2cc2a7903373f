"""scripts/deploy_parameters.py: what the pipeline passes to `sam deploy` for each environment of samconfig.toml."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "deploy_parameters.py"
_spec = importlib.util.spec_from_file_location("deploy_parameters", SCRIPT)
assert _spec is not None and _spec.loader is not None
deploy_parameters = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(deploy_parameters)

ACCOUNT = {
    "WEB_APP_DOMAIN_NAME": "refunds.staging.example.net",
    "WEB_APP_CERTIFICATE_ARN": "arn:aws:acm:us-east-1:111122223333:certificate/abc",
    "BACKUP_COPY_VAULT_ARN": "arn:aws:backup:ap-northeast-1:111122223333:backup-vault:refunds-copy",
    "SENDER_EMAIL": "refunds@staging.example.net",
}


def test_staging_is_the_config_files_parameters_with_the_accounts_own_values() -> None:
    merged = deploy_parameters.parameters("staging", ACCOUNT)
    assert merged["TableDeletionProtection"] == "true" and merged["ApiDeploymentType"] == "Canary10Percent5Minutes"
    assert merged["WebAppDomainName"] == "refunds.staging.example.net"
    assert merged["SenderEmail"] == "refunds@staging.example.net"
    assert "ReviewersEmail" not in merged  # unset: the template's default


@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_an_environment_keeping_real_records_is_not_deployed_without_its_backup_copy(environment: str) -> None:
    without_copy = {name: value for name, value in ACCOUNT.items() if name != "BACKUP_COPY_VAULT_ARN"}
    with pytest.raises(SystemExit, match="BACKUP_COPY_VAULT_ARN"):
        deploy_parameters.parameters(environment, without_copy)


def test_dev_deploys_all_at_once_and_unprotected_and_an_unknown_environment_is_refused() -> None:
    merged = deploy_parameters.parameters("dev", {})
    assert (merged["ApiDeploymentType"], merged["TableDeletionProtection"]) == ("AllAtOnce", "false")
    with pytest.raises(SystemExit, match="no environment 'qa'"):
        deploy_parameters.parameters("qa", {})


def test_the_command_prints_one_parameter_per_line() -> None:
    printed = subprocess.run(
        [sys.executable, str(SCRIPT), "prod"], env=ACCOUNT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert "ApiDeploymentType=Canary10Percent10Minutes" in printed
    assert "WebAppCertificateArn=arn:aws:acm:us-east-1:111122223333:certificate/abc" in printed
