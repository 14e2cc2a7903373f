"""Fails when an IAM statement of a template allows a wildcard action ("*", "dynamodb:*", "s3:Get*") or uses
NotAction (everything but a list). Run by scripts/security_scan.sh on template.yaml (our own statements) and
on its translation (.aws-sam/translated.json), where SAM's policy templates (DynamoDBCrudPolicy...) are
expanded into statements. Managed policies attached by ARN are AWS's own: listed, not inspected.

Usage: check_iam_actions.py TEMPLATE... (run with .venv-tools' python: it reads SAM's short YAML tags)"""

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from samtranslator.yaml_helper import yaml_parse


def statements(node: Any) -> Iterator[dict[str, Any]]:
    """Every IAM statement anywhere in the template: role policies, function policies, queue or topic policies."""
    if isinstance(node, dict):
        found = node.get("Statement")
        if isinstance(found, dict):
            yield found
        elif isinstance(found, list):
            yield from (statement for statement in found if isinstance(statement, dict))
        for value in node.values():
            yield from statements(value)
    elif isinstance(node, list):
        for value in node:
            yield from statements(value)


def managed_policies(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "ManagedPolicyArns" and isinstance(value, list):
                yield from (arn if isinstance(arn, str) else json.dumps(arn) for arn in value)
            else:
                yield from managed_policies(value)
    elif isinstance(node, list):
        for value in node:
            yield from managed_policies(value)


def problem(statement: dict[str, Any]) -> str | None:
    if "NotAction" in statement:
        return "NotAction allows every action but those listed"
    actions = statement.get("Action")
    listed = [actions] if isinstance(actions, str) else actions
    if not isinstance(listed, list) or not all(isinstance(action, str) for action in listed):
        return f"Action is not a list of names, cannot check it: {actions!r}"
    wildcards = [action for action in listed if "*" in action]
    return f"wildcard action {', '.join(wildcards)}" if wildcards else None


def main(paths: list[str]) -> int:
    failures = 0
    for path in paths:
        template = yaml_parse(Path(path).read_text())  # YAML with CloudFormation tags, or JSON
        found = list(statements(template.get("Resources", {})))
        bad = [(statement, reason) for statement in found if (reason := problem(statement))]
        print(f"  {path}: {len(found)} IAM statements, {len(bad)} with a wildcard action or NotAction")
        for statement, reason in bad:
            print(f"    FAILED {reason}: {json.dumps(statement)}")
        arns = sorted(set(managed_policies(template.get("Resources", {}))))
        if arns:
            print(f"    managed policies (AWS's own, not inspected): {', '.join(arns)}")
        failures += len(bad)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
