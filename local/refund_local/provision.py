"""Create the stack's AWS resources in moto from template.yaml's own definitions.

The template is the single source of truth: tables, the state machine, API routes and environment are read
from it, so the local runner and the tests cannot drift from what `sam deploy` creates. Local resources are
named after their logical ids (table `RequestsTable`, state machine `ReviewDeadlineStateMachine`, ...).
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from samtranslator.yaml_helper import yaml_parse

from refund_local.environment import REGION
from refund_local.paths import REPO_ROOT, TEMPLATE_PATH

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_stepfunctions import SFNClient

Template = dict[str, Any]

# moto does not check roles; Step Functions only needs a well-formed ARN.
LOCAL_STATE_MACHINE_ROLE_ARN = "arn:aws:iam::123456789012:role/review-deadline"


def load_template(path: Path | None = None) -> Template:
    """template.yaml (or `path`) as plain data, short intrinsic tags turned into their long forms by SAM's own
    YAML reader: a copy of the file's one parse (a process provisions many stacks: a test, each)."""
    return copy.deepcopy(_parsed(path or TEMPLATE_PATH))


@functools.cache
def _parsed(path: Path) -> Template:
    template = yaml_parse(path.read_text(encoding="utf-8"))
    if not isinstance(template, dict):
        raise ValueError(f"{path} is not a template")
    return template


def _resources(template: Template, resource_type: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") == resource_type:
            yield logical_id, resource.get("Properties", {})


def create_tables(template: Template, dynamodb_client: DynamoDBClient) -> dict[str, str]:
    """Create every AWS::DynamoDB::Table of the template; returns logical id → table name (the logical id)."""
    names: dict[str, str] = {}
    for logical_id, props in _resources(template, "AWS::DynamoDB::Table"):
        table: dict[str, Any] = {
            "TableName": logical_id,
            "KeySchema": props["KeySchema"],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "BillingMode": props.get("BillingMode", "PROVISIONED"),
        }
        if "GlobalSecondaryIndexes" in props:
            table["GlobalSecondaryIndexes"] = [
                {key: index[key] for key in ("IndexName", "KeySchema", "Projection")}
                for index in props["GlobalSecondaryIndexes"]
            ]
        if "StreamSpecification" in props:
            # CloudFormation implies StreamEnabled; the API wants it said.
            view_type = props["StreamSpecification"]["StreamViewType"]
            table["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": view_type}
        dynamodb_client.create_table(**table)
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            dynamodb_client.update_time_to_live(
                TableName=logical_id,
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )
        names[logical_id] = logical_id
    return names


def create_state_machine(
    template: Template,
    sfn_client: SFNClient,
    table_names: Mapping[str, str],
    *,
    logical_id: str = "ReviewDeadlineStateMachine",
    base_dir: Path = REPO_ROOT,
) -> str:
    """Create the state machine `logical_id` from its DefinitionUri file (relative to `base_dir`, the
    template's directory) with its DefinitionSubstitutions applied; returns its ARN.

    Substitutions may be plain strings or `Ref`s to tables (resolved through `table_names`)."""
    props = template["Resources"][logical_id]["Properties"]
    definition = (base_dir / props["DefinitionUri"]).read_text(encoding="utf-8")
    for name, value in props.get("DefinitionSubstitutions", {}).items():
        definition = definition.replace("${" + name + "}", _resolve_substitution(value, table_names))
    if "${" in definition:
        raise ValueError(f"{logical_id}: a ${{...}} in {props['DefinitionUri']} has no DefinitionSubstitution")
    response = sfn_client.create_state_machine(
        name=logical_id,
        definition=definition,
        roleArn=LOCAL_STATE_MACHINE_ROLE_ARN,
        type=props.get("Type", "STANDARD"),
    )
    return response["stateMachineArn"]


def _resolve_substitution(value: Any, table_names: Mapping[str, str]) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and value.get("Ref") in table_names:
        return table_names[value["Ref"]]
    raise ValueError(f"no local value for the DefinitionSubstitution {value!r}")


@dataclass(frozen=True)
class Route:
    """One API event of a function: what `sam local start-api` would serve."""

    function: str  # logical id, e.g. "SubmitFunction"
    code_uri: str  # e.g. "functions/submit/"
    handler: str  # e.g. "app.lambda_handler"
    method: str  # upper case, e.g. "POST"
    path: str  # e.g. "/refund-requests/{requestId}"
    # False for a route the template opens to callers without a token (`Auth: {Authorizer: NONE}`: a webhook).
    signed_in: bool = True


def api_routes(template: Template) -> list[Route]:
    """Every Api event of every AWS::Serverless::Function, in template order."""
    defaults = template.get("Globals", {}).get("Function", {})
    routes: list[Route] = []
    for logical_id, props in _resources(template, "AWS::Serverless::Function"):
        for event in props.get("Events", {}).values():
            if event.get("Type") != "Api":
                continue
            routes.append(
                Route(
                    function=logical_id,
                    code_uri=props.get("CodeUri", defaults.get("CodeUri")),
                    handler=props.get("Handler", defaults.get("Handler")),
                    method=event["Properties"]["Method"].upper(),
                    path=event["Properties"]["Path"],
                    signed_in=event["Properties"].get("Auth", {}).get("Authorizer") != "NONE",
                )
            )
    return routes


def web_app_values(base_url: str) -> dict[str, str]:
    """The variables that name the deployed web app (its CloudFront domain), for a web app served at
    `base_url`: the local runner serves it itself."""
    return {"WEB_APP_ORIGIN": base_url.rstrip("/"), "CONTROL_PANEL_URL": base_url.rstrip("/") + "/"}


LOCAL_WEB_APP = web_app_values("http://127.0.0.1:3000")


def function_environment(
    template: Template,
    refs: Mapping[str, str],
    *,
    function: str | None = None,
    parameters: Mapping[str, str] | None = None,
    local_values: Mapping[str, str] = LOCAL_WEB_APP,
) -> dict[str, str]:
    """The environment variables a function gets, resolved to local values: Globals' variables, plus those
    of `function` (a logical id) when given. A `Ref` to a resource resolves through `refs` (logical id →
    what `Ref` gives locally: a table's name, the state machine's ARN...), else to the logical id itself (the
    local SES configuration set is `SesConfigurationSet`, the bus `RefundsEventBus`); a `Ref` to a template
    parameter to `parameters[name]`, else its Default; a variable made of a deployed resource's attributes
    (the web app's domain) takes its value from `local_values`."""
    variables = dict(template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {}))
    if function is not None:
        own = template["Resources"][function]["Properties"].get("Environment", {}).get("Variables", {})
        variables.update(own)
    template_parameters = template.get("Parameters", {})
    resources = template.get("Resources", {})

    def resolve(name: str, value: Any) -> str:
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, str | int | float):
            return str(value)
        if not (isinstance(value, dict) and list(value) == ["Ref"]):
            if name in local_values:
                return local_values[name]
            raise ValueError(f"environment variable {name}: no local value for {value!r}")
        ref = str(value["Ref"])
        if ref in refs:
            return refs[ref]
        if ref in template_parameters:
            if parameters and ref in parameters:
                return parameters[ref]
            return str(template_parameters[ref].get("Default", ""))
        if ref in resources:
            return ref
        raise ValueError(f"environment variable {name}: {ref!r} is neither a parameter nor a resource")

    return {name: resolve(name, value) for name, value in variables.items()}


Clients = Callable[[str], Any]


@dataclass(frozen=True)
class Stack:
    """What `provision` made: what each resource's `Ref` gives locally, and the functions' shared environment."""

    refs: dict[str, str]
    table_names: dict[str, str]
    queue_urls: dict[str, str]
    state_machine_arn: str
    environment: dict[str, str]


def create_queues(template: Template, sqs_client: Any) -> dict[str, str]:
    """Every AWS::SQS::Queue of the template, dead-letter queues first; returns logical id → queue URL (what
    `Ref` gives). A redrive policy's `!GetAtt Queue.Arn` resolves to the local queue's ARN."""
    queues = dict(_resources(template, "AWS::SQS::Queue"))
    urls: dict[str, str] = {}
    arns: dict[str, str] = {}

    def create(logical_id: str) -> None:
        props = queues[logical_id]
        attributes: dict[str, str] = {
            name: str(props[name]) for name in ("VisibilityTimeout", "MessageRetentionPeriod") if name in props
        }
        if redrive := props.get("RedrivePolicy"):
            target = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
            if target not in arns:
                create(target)
            attributes["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": arns[target], "maxReceiveCount": int(redrive["maxReceiveCount"])}
            )
        urls[logical_id] = sqs_client.create_queue(QueueName=logical_id, Attributes=attributes)["QueueUrl"]
        arns[logical_id] = sqs_client.get_queue_attributes(QueueUrl=urls[logical_id], AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]

    for logical_id in queues:
        if logical_id not in urls:
            create(logical_id)
    return urls


def create_rules(template: Template, events_client: Any, sqs_client: Any, queue_urls: Mapping[str, str]) -> list[str]:
    """Every AWS::Events::Rule of the template on its bus (`!Ref` a bus of the template: the bus of that name
    locally), with its SQS targets (`!GetAtt Queue.Arn`); returns the rules' names. moto routes what matches
    to the queues, as EventBridge does."""
    made: list[str] = []
    for logical_id, props in _resources(template, "AWS::Events::Rule"):
        bus = props.get("EventBusName", "default")
        bus_name = bus["Ref"] if isinstance(bus, dict) else str(bus)
        events_client.put_rule(
            Name=logical_id, EventBusName=bus_name, EventPattern=json.dumps(props["EventPattern"]), State="ENABLED"
        )
        targets = []
        for target in props.get("Targets", []):
            queue = target["Arn"]["Fn::GetAtt"][0]
            arn = sqs_client.get_queue_attributes(QueueUrl=queue_urls[queue], AttributeNames=["QueueArn"])
            targets.append({"Id": target["Id"], "Arn": arn["Attributes"]["QueueArn"]})
        events_client.put_targets(Rule=logical_id, EventBusName=bus_name, Targets=targets)
        made.append(logical_id)
    return made


def create_secrets(template: Template, secrets_client: Any) -> list[str]:
    """Every AWS::SecretsManager::Secret of the template, named after its logical id, with the template's value
    (the local runner and the tests write the values that work locally)."""
    made = []
    for logical_id, props in _resources(template, "AWS::SecretsManager::Secret"):
        secrets_client.create_secret(Name=logical_id, SecretString=props.get("SecretString", "{}"))
        made.append(logical_id)
    return made


def create_buckets(template: Template, s3: Any) -> dict[str, str]:
    """Each bucket of the template (the evidence's), named as its logical id in lower case with hyphens, as S3
    names must be, versioned as the template says."""
    names = {}
    for logical_id, properties in _resources(template, "AWS::S3::Bucket"):
        name = re.sub(r"(?<!^)(?=[A-Z])", "-", logical_id).lower()
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
        if properties.get("VersioningConfiguration", {}).get("Status") == "Enabled":
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        names[logical_id] = name
    return names


def provision(template: Template, client: Clients) -> Stack:
    """Every resource of the template that the functions use, created through `client(service)`: the tables,
    the queues, the state machine, the secrets, the sender's SES identity and configuration set, the bus."""
    table_names = create_tables(template, client("dynamodb"))
    create_secrets(template, client("secretsmanager"))
    queue_urls = create_queues(template, client("sqs"))
    state_machine_arn = create_state_machine(template, client("stepfunctions"), table_names)
    buckets = create_buckets(template, client("s3"))
    refs = {**table_names, **queue_urls, **buckets, "ReviewDeadlineStateMachine": state_machine_arn}
    environment = function_environment(template, refs)
    ses = client("ses")
    ses.verify_email_identity(EmailAddress=environment["SENDER_EMAIL"])
    if environment.get("SES_CONFIGURATION_SET"):
        ses.create_configuration_set(ConfigurationSet={"Name": environment["SES_CONFIGURATION_SET"]})
    if environment.get("EVENT_BUS_NAME", "default") != "default":
        client("events").create_event_bus(Name=environment["EVENT_BUS_NAME"])
    create_rules(template, client("events"), client("sqs"), queue_urls)
    return Stack(
        refs=refs,
        table_names=table_names,
        queue_urls=queue_urls,
        state_machine_arn=state_machine_arn,
        environment=environment,
    )


@dataclass(frozen=True)
class FunctionSettings:
    """A function's own settings in the template (Globals filled in)."""

    name: str
    code_uri: str
    handler: str
    timeout_seconds: float
    memory_mb: int


def functions(template: Template) -> list[FunctionSettings]:
    """Every AWS::Serverless::Function of the template, in template order."""
    defaults = template.get("Globals", {}).get("Function", {})
    return [
        FunctionSettings(
            name=logical_id,
            code_uri=props.get("CodeUri", defaults.get("CodeUri")),
            handler=props.get("Handler", defaults.get("Handler")),
            timeout_seconds=float(props.get("Timeout", defaults.get("Timeout", 3))),
            memory_mb=int(props.get("MemorySize", defaults.get("MemorySize", 128))),
        )
        for logical_id, props in _resources(template, "AWS::Serverless::Function")
    ]
