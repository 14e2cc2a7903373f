"""Translate template.yaml to plain CloudFormation offline, for cfn-lint to check what SAM generates.

SAM's translator needs S3 code locations and an IAM call for managed policy names; we give it placeholder
S3 URIs, the state machine definitions inlined (so cfn-lint also validates the ASL), and a managed-policy
loader that answers without AWS. checkov scans the result too (scripts/security_scan.sh). Usage: translate_template.py TEMPLATE OUTPUT
"""

import json
import os
import sys
from pathlib import Path
from typing import Any

from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

PLACEHOLDER_S3_URI = "s3://offline-translation/placeholder.zip"


class OfflinePolicyLoader(ManagedPolicyLoader):
    """Resolves AWS managed policy names by the documented ARN pattern instead of iam:ListPolicies."""

    def __init__(self) -> None:
        pass

    def load(self) -> dict[str, str]:
        # The template names no managed policy by bare name; SAM's own additions carry full ARNs.
        return {}


def offline_ready(template: dict[str, Any], base_dir: Path) -> dict[str, Any]:
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        kind = resource.get("Type")
        if kind == "AWS::Serverless::Function" and "CodeUri" in props:
            props["CodeUri"] = PLACEHOLDER_S3_URI
        elif kind == "AWS::Serverless::LayerVersion":
            props["ContentUri"] = PLACEHOLDER_S3_URI
        elif kind == "AWS::Serverless::StateMachine" and "DefinitionUri" in props:
            props["Definition"] = json.loads((base_dir / props.pop("DefinitionUri")).read_text())
    return template


def restore_definitions(translated: dict[str, Any], template: dict[str, Any]) -> None:
    """SAM turns Definition into a DefinitionString (Fn::Join of lines) that cfn-lint cannot look into; the
    Definition object is equivalent for CloudFormation, and cfn-lint validates it against the ASL schema."""
    for logical_id, resource in template["Resources"].items():
        definition = resource.get("Properties", {}).get("Definition")
        if resource["Type"] == "AWS::Serverless::StateMachine" and definition is not None:
            properties = translated["Resources"][logical_id]["Properties"]
            del properties["DefinitionString"]
            properties["Definition"] = definition


def carry_checkov_skips(translated: dict[str, Any], template: dict[str, Any]) -> None:
    """checkov reads a resource's skips from its Metadata. SAM keeps an Api's Metadata on the RestApi only,
    while the stage-level checks (access logs, caching) look at the Stage it generates: give it the same skips."""
    for logical_id, resource in template["Resources"].items():
        skips = resource.get("Metadata", {}).get("checkov")
        if resource["Type"] != "AWS::Serverless::Api" or skips is None:
            continue
        api_ref = {"Ref": logical_id}
        for generated in translated["Resources"].values():
            if generated["Type"] == "AWS::ApiGateway::Stage" and generated["Properties"]["RestApiId"] == api_ref:
                generated.setdefault("Metadata", {})["checkov"] = skips


def main(argv: list[str]) -> int:
    source, target = Path(argv[1]), Path(argv[2])
    # The translator reads AWS::Region/Partition from a boto3 session and gives up without a region; it only
    # picks the partition of generated ARNs here.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    template = offline_ready(yaml_parse(source.read_text()), source.parent)
    translated = transform(template, {}, OfflinePolicyLoader())
    restore_definitions(translated, template)
    carry_checkov_skips(translated, template)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(translated, indent=2) + "\n")
    print(f"translated {source} -> {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
