"""template.yaml against the contracts: API.md's routes, the environment of docs/design.md, and our deployment
rules."""

import importlib
import json
import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from refund_local.provision import (
    REPO_ROOT,
    api_routes,
    create_state_machine,
    create_tables,
    function_environment,
    load_template,
)

# API.md, "Routes" (the query string of the list route left out).
DOCUMENTED_ROUTES = {
    ("POST", "/refund-requests"),
    ("GET", "/orders/{orderId}/assessment"),
    ("GET", "/refund-requests/{requestId}"),
    ("GET", "/refund-requests"),
    ("POST", "/refund-requests/{requestId}/evaluate"),
    ("POST", "/refund-requests/{requestId}/cancel"),
    ("POST", "/refund-requests/{requestId}/answer"),
    ("POST", "/refund-requests/{requestId}/evidence"),
    ("POST", "/refund-requests/{requestId}/evidence/{evidenceId}/check"),
    ("GET", "/refund-requests/{requestId}/evidence/{evidenceId}"),
    ("GET", "/orders"),
    ("GET", "/reports/sla"),
    ("GET", "/reports/decisions.csv"),
    ("GET", "/policy"),
    ("PUT", "/policy/drafts/{version}"),
    ("POST", "/policy/drafts/{version}/simulate"),
    ("POST", "/policy/drafts/{version}/publish"),
    ("POST", "/policy/drafts/{version}/simulations"),
    ("GET", "/policy/simulations"),
    ("GET", "/policy/simulations/{simulationId}"),
    ("GET", "/policy/audit"),
    ("GET", "/payouts"),
    ("POST", "/payouts/{requestId}"),
    ("GET", "/reports/payouts.csv"),
    ("POST", "/reports/decisions-exports"),
    ("GET", "/reports/decisions-exports"),
    ("GET", "/reports/decisions-exports/{exportId}"),
    ("POST", "/webhooks/stripe"),
    ("GET", "/personal-data"),
    ("GET", "/queue/counts"),
    ("GET", "/canned-replies"),
    ("PUT", "/canned-replies/{replyId}"),
    ("POST", "/canned-replies/{replyId}/retire"),
}
# Routes a caller without a Cognito token may call: the card processor's webhook, whose signature is its proof.
OPEN_ROUTES = {("POST", "/webhooks/stripe")}
# docs/design.md, "Environment" (REVIEW_WINDOW_SECONDS is the local runner's own).
DESIGN_ENVIRONMENT = {
    "REQUESTS_TABLE_NAME",
    "CUSTOMER_RECORDS_TABLE_NAME",
    "IDEMPOTENCY_TABLE_NAME",
    "POLICY_TABLE_NAME",
    "POLICY_CACHE_SECONDS",
    "REVIEW_DEADLINE_STATE_MACHINE_ARN",
    "SENDER_EMAIL",
    "REVIEWERS_EMAIL",
    "SUPERVISORS_EMAIL",
    "SUPPORT_EMAIL",
    "WEB_APP_ORIGIN",
    "CONTROL_PANEL_URL",
    "SES_CONFIGURATION_SET",
    "EVENT_BUS_NAME",
    "DELIVERY_QUEUE_URL",
    "RECORDS_DEAD_LETTER_QUEUE_URL",
    "STRIPE_SECRET_NAME",
    "EVIDENCE_BUCKET_NAME",
    "REPORTS_BUCKET_NAME",
    "DECISIONS_EXPORT_QUEUE_URL",
    "POLICY_SIMULATION_QUEUE_URL",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOG_LEVEL",
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def resources(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource.get("Properties", {})
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == resource_type
    }


def test_api_routes_are_the_documented_ones(template: dict[str, Any]) -> None:
    routes = [(route.method, route.path) for route in api_routes(template)]
    assert len(routes) == len(set(routes))
    assert set(routes) == DOCUMENTED_ROUTES
    for route in api_routes(template):
        events = template["Resources"][route.function]["Properties"]["Events"]
        api_events = [event for event in events.values() if event["Type"] == "Api"]
        assert all(event["Properties"]["RestApiId"] == {"Ref": "RefundsApi"} for event in api_events)


def test_every_route_needs_a_cognito_token(template: dict[str, Any]) -> None:
    api = template["Resources"]["RefundsApi"]["Properties"]
    assert api["StageName"] == "v1"
    assert api["Auth"]["DefaultAuthorizer"] == "CognitoAuthorizer"
    assert "UserPoolArn" in api["Auth"]["Authorizers"]["CognitoAuthorizer"]
    for function in resources(template, "AWS::Serverless::Function").values():
        for event in function.get("Events", {}).values():
            properties = event.get("Properties", {})
            # A route-level Auth switches the authorizer off (Authorizer: NONE): the webhook's alone.
            if (properties.get("Method", "").upper(), properties.get("Path")) in OPEN_ROUTES:
                assert properties["Auth"] == {"Authorizer": "NONE"}
            else:
                assert "Auth" not in properties


def test_tables_are_durable_and_protected(template: dict[str, Any]) -> None:
    tables = resources(template, "AWS::DynamoDB::Table")
    assert set(tables) == {"RequestsTable", "CustomerRecordsTable", "IdempotencyTable", "PolicyTable"}
    for logical_id, props in tables.items():
        assert "TableName" not in props, logical_id
        assert props["BillingMode"] == "PAY_PER_REQUEST", logical_id
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}, logical_id
        assert props["SSESpecification"] == {"SSEEnabled": True}, logical_id
        assert props["DeletionProtectionEnabled"] == {"Ref": "TableDeletionProtection"}, logical_id
    assert template["Parameters"]["TableDeletionProtection"]["Default"] == "true"


def iam_statements(node: Any) -> Iterator[dict[str, Any]]:
    """Every IAM statement anywhere in the template (policies, policy templates' inline statements)."""
    if isinstance(node, dict):
        statements = node.get("Statement")
        if isinstance(statements, list):
            yield from (statement for statement in statements if isinstance(statement, dict))
        elif isinstance(statements, dict):
            yield statements
        for value in node.values():
            yield from iam_statements(value)
    elif isinstance(node, list):
        for value in node:
            yield from iam_statements(value)


def actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def test_no_iam_statement_allows_every_action(template: dict[str, Any]) -> None:
    statements = list(iam_statements(template))
    assert statements, "the template declares its statements inline"
    for statement in statements:
        assert "NotAction" not in statement, statement
        actions = statement["Action"]
        for action in [actions] if isinstance(actions, str) else actions:
            assert action != "*" and not action.endswith(":*"), statement


def test_environment_has_every_design_name(template: dict[str, Any]) -> None:
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert set(variables) == DESIGN_ENVIRONMENT
    assert variables["POWERTOOLS_SERVICE_NAME"] == "refunds"
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "SmartSecurity/Refunds"


def test_notifier_reads_new_requests_owed_effects_and_decisions_of_its_own_stream_and_writes_only_the_days(
    template: dict[str, Any],
) -> None:
    notifier = template["Resources"]["NotifierFunction"]["Properties"]
    (stream,) = [event["Properties"] for event in notifier["Events"].values() if event["Type"] == "DynamoDB"]
    assert stream["Stream"] == {"Fn::GetAtt": ["RequestsTable", "StreamArn"]}
    assert stream["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert stream["BisectBatchOnFunctionError"] is True
    assert stream["DestinationConfig"]["OnFailure"] == {
        "Type": "SQS",
        "Destination": {"Fn::GetAtt": ["NotifierDeadLetterQueue", "Arn"]},
    }
    inserts, no_longer_pending = [json.loads(f["Pattern"]) for f in stream["FilterCriteria"]["Filters"]]
    assert inserts == {"eventName": ["INSERT"], "dynamodb": {"Keys": {"sk": {"S": ["REQUEST", {"prefix": "OWED#"}]}}}}
    assert no_longer_pending == {
        "eventName": ["MODIFY"],
        "dynamodb": {
            "Keys": {"sk": {"S": ["REQUEST"]}},
            "OldImage": {"status": {"S": ["PENDING"]}},
            "NewImage": {"status": {"S": ["APPROVED", "REFUSED", "CANCELLED"]}},
        },
    }
    # Its own role, so that SAM adds no AWSLambdaDynamoDBExecutionRole (every stream of the account).
    assert notifier["Role"] == {"Fn::GetAtt": ["NotifierRole", "Arn"]}
    statements = list(iam_statements(template["Resources"]["NotifierRole"]))
    table_actions = {
        json.dumps(st["Resource"]): (sorted(actions(st)), st.get("Condition"))
        for st in statements
        if any(a.startswith("dynamodb:") for a in actions(st))
    }
    assert table_actions == {
        json.dumps({"Fn::GetAtt": ["RequestsTable", "StreamArn"]}): (
            ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"],
            None,
        ),
        json.dumps({"Fn::Sub": "${RequestsTable.Arn}/stream/*"}): (["dynamodb:ListStreams"], None),
        # It writes the service levels' days and nothing else of the table; it reads the policy's time zone.
        json.dumps({"Fn::GetAtt": ["RequestsTable", "Arn"]}): (
            ["dynamodb:PutItem", "dynamodb:UpdateItem"],
            {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["SLA", "SLA#*"]}},
        ),
        json.dumps({"Fn::GetAtt": ["PolicyTable", "Arn"]}): (["dynamodb:Query"], None),
    }


def test_no_function_holds_a_policy_template_wider_than_its_code(template: dict[str, Any]) -> None:
    """Every function names its actions in statements: no CRUD policy template (Submit held DeleteItem and Scan
    it never makes), and the writers of request items only are held to the REQUEST# partitions (the outbox also
    to SENT#: which request an email it sent was about)."""
    functions = resources(template, "AWS::Serverless::Function")
    for name, props in functions.items():
        for policy in props.get("Policies", []):
            assert isinstance(policy, dict) and list(policy) == ["Statement"], name
    for writer in ("OutboxRole", "ReconcilerFunction", "ReviewDeadlineStateMachine"):
        writes = [
            statement
            for statement in iam_statements(template["Resources"][writer])
            if {"dynamodb:UpdateItem", "dynamodb:PutItem"} & set(actions(statement))
            and statement["Resource"] == {"Fn::GetAtt": ["RequestsTable", "Arn"]}
        ]
        assert writes, writer
        partitions = ["REQUEST#*", "SENT#*"] if writer == "OutboxRole" else ["REQUEST#*"]
        # The reconciler also counts in the service levels what the notifier did not: their items only.
        allowed = [partitions, ["SLA", "SLA#*"]] if writer == "ReconcilerFunction" else [partitions]
        for statement in writes:
            assert statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"] in allowed, writer


def test_every_api_call_is_logged_also_those_no_function_sees(template: dict[str, Any]) -> None:
    api = template["Resources"]["RefundsApi"]
    assert api["Properties"]["AccessLogSetting"]["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    assert "CKV_AWS_76" not in json.dumps(api.get("Metadata", {}))
    assert template["Resources"]["ApiGatewayAccount"]["Properties"]["CloudWatchRoleArn"] == {
        "Fn::GetAtt": ["ApiGatewayLoggingRole", "Arn"]
    }


def test_an_address_changes_only_once_verified(template: dict[str, Any]) -> None:
    pool = template["Resources"]["UserPool"]["Properties"]
    assert pool["UserAttributeUpdateSettings"] == {"AttributesRequireVerificationBeforeUpdate": ["email"]}


def test_state_machine_only_touches_request_items(template: dict[str, Any]) -> None:
    machine = template["Resources"]["ReviewDeadlineStateMachine"]["Properties"]
    assert machine["Type"] == "STANDARD"
    assert machine["DefinitionSubstitutions"] == {"RequestsTableName": {"Ref": "RequestsTable"}}
    definition = json.loads((REPO_ROOT / machine["DefinitionUri"]).read_text())
    task_resources = {s["Resource"] for s in definition["States"].values() if s["Type"] == "Task"}
    assert task_resources == {
        "arn:aws:states:::aws-sdk:dynamodb:transactWriteItems",
        "arn:aws:states:::dynamodb:getItem",
        "arn:aws:states:::dynamodb:putItem",
    }
    (statement,) = list(iam_statements(machine["Policies"]))
    assert sorted(statement["Action"]) == ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
    assert statement["Resource"] == {"Fn::GetAtt": ["RequestsTable", "Arn"]}


def test_review_deadline_states_are_all_linked(template: dict[str, Any]) -> None:
    """What neither moto nor cfn-lint's ASL schema checks: every transition lands on a state, every state is
    reachable, and each DynamoDB task retries transient errors and catches the rest."""
    machine = template["Resources"]["ReviewDeadlineStateMachine"]["Properties"]
    definition = json.loads((REPO_ROOT / machine["DefinitionUri"]).read_text())
    states = definition["States"]

    def targets(state: dict[str, Any]) -> set[str]:
        found = {catcher["Next"] for catcher in state.get("Catch", [])}
        found |= {choice["Next"] for choice in state.get("Choices", [])}
        found |= {state[key] for key in ("Next", "Default") if key in state}
        return found

    reachable: set[str] = set()
    frontier = [definition["StartAt"]]
    while frontier:
        name = frontier.pop()
        assert name in states, f"transition to a missing state {name!r}"
        if name not in reachable:
            reachable.add(name)
            frontier.extend(targets(states[name]))
    assert reachable == set(states)
    for name, state in states.items():
        if state["Type"] == "Task":
            assert state["Catch"][-1]["ErrorEquals"] == ["States.ALL"], name
            # A transaction's failure goes to its check (it may be an answer); any other task retries.
            if "transactWriteItems" not in state["Resource"]:
                assert state["Retry"][-1]["ErrorEquals"] == ["States.ALL"], name


@mock_aws
def test_created_tables_have_the_design_keys_indexes_and_stream(template: dict[str, Any]) -> None:
    dynamodb = boto3.client("dynamodb")
    names = create_tables(template, dynamodb)
    assert names == {
        name: name for name in ("RequestsTable", "CustomerRecordsTable", "IdempotencyTable", "PolicyTable")
    }

    requests = dynamodb.describe_table(TableName=names["RequestsTable"])["Table"]
    assert [(k["AttributeName"], k["KeyType"]) for k in requests["KeySchema"]] == [("pk", "HASH"), ("sk", "RANGE")]
    indexes = {
        index["IndexName"]: (
            [(k["AttributeName"], k["KeyType"]) for k in index["KeySchema"]],
            index["Projection"]["ProjectionType"],
        )
        for index in requests["GlobalSecondaryIndexes"]
    }
    assert indexes == {
        "ByStatus": ([("gsi1pk", "HASH"), ("gsi1sk", "RANGE")], "ALL"),
        "ByCustomer": ([("gsi2pk", "HASH"), ("gsi2sk", "RANGE")], "ALL"),
        "ByOwed": ([("gsi3pk", "HASH"), ("gsi3sk", "RANGE")], "INCLUDE"),
        "ByReceived": ([("gsi4pk", "HASH"), ("gsi4sk", "RANGE")], "INCLUDE"),
    }
    assert requests["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert requests["LatestStreamArn"]

    records = dynamodb.describe_table(TableName=names["CustomerRecordsTable"])["Table"]
    assert [k["AttributeName"] for k in records["KeySchema"]] == ["pk", "sk"]
    indexes = {
        index["IndexName"]: ([k["AttributeName"] for k in index["KeySchema"]], index["Projection"]["ProjectionType"])
        for index in records["GlobalSecondaryIndexes"]
    }
    assert indexes == {"ByCustomer": (["gsi1pk", "gsi1sk"], "ALL"), "ByEmail": (["gsi2pk"], "KEYS_ONLY")}

    idempotency = dynamodb.describe_table(TableName=names["IdempotencyTable"])["Table"]
    assert [k["AttributeName"] for k in idempotency["KeySchema"]] == ["id"]
    ttl = dynamodb.describe_time_to_live(TableName=names["IdempotencyTable"])["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expiration")

    # The layout of Powertools' DynamoDB parameters provider, which reads the published versions.
    policy = dynamodb.describe_table(TableName=names["PolicyTable"])["Table"]
    assert [k["AttributeName"] for k in policy["KeySchema"]] == ["pk", "sk"]
    assert not policy.get("GlobalSecondaryIndexes")


@mock_aws
def test_local_environment_resolves_every_variable(template: dict[str, Any]) -> None:
    names = create_tables(template, boto3.client("dynamodb"))
    arn = create_state_machine(template, boto3.client("stepfunctions"), names)
    environment = function_environment(template, {**names, "ReviewDeadlineStateMachine": arn})
    assert set(environment) == DESIGN_ENVIRONMENT
    assert environment["REQUESTS_TABLE_NAME"] == "RequestsTable"
    assert environment["REVIEW_DEADLINE_STATE_MACHINE_ARN"] == arn
    assert environment["SENDER_EMAIL"] == "refunds@example.com"


def test_every_api_function_is_released_by_canary_behind_alarms_and_restored_from_a_snapshot(
    template: dict[str, Any],
) -> None:
    resources = template["Resources"]
    for route in api_routes(template):
        function = resources[route.function]["Properties"]
        name = route.function.removesuffix("Function")
        assert function["AutoPublishAlias"] == "live"
        assert function["SnapStart"] == {"ApplyOn": "PublishedVersions"}
        alarms = {alarm["Ref"] for alarm in function["DeploymentPreference"]["Alarms"]}
        assert alarms == {f"{name}ErrorsAlarm", f"{name}LatencyAlarm", "Api5xxAlarm", "ApiLatencyAlarm"}
        for alarm in alarms - {"Api5xxAlarm", "ApiLatencyAlarm"}:
            dimensions = {d["Name"]: d["Value"] for d in resources[alarm]["Properties"]["Dimensions"]}
            assert dimensions["Resource"] == {"Fn::Sub": f"${{{route.function}}}:live"}  # the new version's calls


def test_the_dashboard_is_json_once_its_names_are_filled_in(template: dict[str, Any]) -> None:
    body, _ = template["Resources"]["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    filled = re.sub(r"\$\{[\w:.]+\}", "name", body)
    titles = [widget["properties"]["title"] for widget in json.loads(filled)["widgets"]]
    assert "Cold starts (SnapStart restores included)" in titles and "Payouts" in titles


def test_the_records_tables_are_backed_up_daily_for_35_days_and_monthly_for_seven_years(
    template: dict[str, Any],
) -> None:
    resources = template["Resources"]
    rules = {
        rule["RuleName"]: rule for rule in resources["RecordsBackupPlan"]["Properties"]["BackupPlan"]["BackupPlanRule"]
    }
    assert {name: rule["Lifecycle"]["DeleteAfterDays"] for name, rule in rules.items()} == {
        "daily": 35, "monthly": 7 * 365 + 2,
    }  # fmt: skip
    for rule in rules.values():
        copied, _ = rule["CopyActions"]["Fn::If"][1:]
        assert copied[0]["Lifecycle"] == rule["Lifecycle"]  # the second region keeps it as long
    selected = resources["RecordsBackupSelection"]["Properties"]["BackupSelection"]["Resources"]
    assert {entry["Fn::GetAtt"][0] for entry in selected} == {"RequestsTable", "CustomerRecordsTable", "PolicyTable"}


@pytest.mark.parametrize(
    ("queue_name", "function_name", "time_kept"),
    [
        ("DecisionsExportQueue", "ExportsFunction", "refund_core.app.decisions_exports.TIME_FOR_A_PART_SECONDS"),
        ("PolicySimulationQueue", "SimulationsFunction", "refund_core.app.policy_simulations.TIME_FOR_A_DAY_SECONDS"),
    ],
)
def test_a_long_job_knows_its_last_try_and_is_never_given_to_two_functions_while_it_runs(
    template: dict[str, Any], queue_name: str, function_name: str, time_kept: str
) -> None:
    from refund_core.app.jobs import JOB_TRIES  # noqa: PLC0415

    module, name = time_kept.rsplit(".", 1)
    queue = template["Resources"][queue_name]["Properties"]
    function = template["Resources"][function_name]["Properties"]
    assert queue["RedrivePolicy"]["maxReceiveCount"] == JOB_TRIES
    assert queue["VisibilityTimeout"] > function["Timeout"] > getattr(importlib.import_module(module), name)
    assert function["Events"]["Jobs"]["Properties"]["BatchSize"] == 1
