"""The `--parameter-overrides` of one environment's `sam deploy`: samconfig.toml's for it, then the account's own
values from the environment variables the pipeline sets from its GitHub environment's secrets (ACCOUNT_PARAMETERS: a
variable's name is its parameter's, in capitals with underscores). `sam deploy --parameter-overrides` replaces
the config file's list instead of adding to it, hence this merge. Prints one `Name=Value` per line.

    python scripts/deploy_parameters.py staging"""

from __future__ import annotations

import os
import re
import shlex
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path

SAMCONFIG = Path(__file__).resolve().parents[1] / "samconfig.toml"
ACCOUNT_PARAMETERS = (
    "WebAppDomainName",
    "WebAppCertificateArn",
    "SenderEmail",
    "ReviewersEmail",
    "SupervisorsEmail",
    "SupportEmail",
    "BackupCopyVaultArn",
    "ExistingUserPoolArn",
    "LettersTopicArn",
    "LettersBucketName",
)
# What an environment that keeps real records cannot go without.
REQUIRED = {"staging": ("WebAppDomainName", "WebAppCertificateArn", "BackupCopyVaultArn"),
            "prod": ("WebAppDomainName", "WebAppCertificateArn", "BackupCopyVaultArn")}  # fmt: skip


def variable_of(parameter: str) -> str:
    """WebAppDomainName -> WEB_APP_DOMAIN_NAME."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", parameter).upper()


def parameters(environment: str, variables: Mapping[str, str], samconfig: Path = SAMCONFIG) -> dict[str, str]:
    config = tomllib.loads(samconfig.read_text(encoding="utf-8"))
    if environment not in config or environment == "default":
        raise SystemExit(f"deploy_parameters: samconfig.toml has no environment {environment!r}")
    listed = config[environment].get("deploy", {}).get("parameters", {}).get("parameter_overrides", "")
    merged = dict(item.split("=", 1) for item in shlex.split(listed))
    for parameter in ACCOUNT_PARAMETERS:
        value = variables.get(variable_of(parameter), "")
        if value:
            merged[parameter] = value
    missing = [name for name in REQUIRED.get(environment, ()) if not merged.get(name)]
    if missing:
        names = ", ".join(variable_of(name) for name in missing)
        raise SystemExit(f"deploy_parameters: {environment} needs {names} (the GitHub environment's secrets)")
    return merged


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        raise SystemExit(__doc__)
    for name, value in parameters(argv[1], os.environ).items():
        print(f"{name}={value}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
