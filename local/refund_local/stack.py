"""AWS emulated in-process by moto, built from template.yaml: the same resources `sam deploy` creates,
for the local runner and the tests. Nothing in refund_core knows it is local."""

from __future__ import annotations

import contextlib
import functools
import os
from dataclasses import dataclass, field
from typing import Any

import boto3
from moto import mock_aws
from moto.core.config import default_user_config

from refund_core.adapters import policy_store, stripe_refunds
from refund_core.app import idempotency, letters
from refund_core.settings import settings
from refund_local.environment import CREDENTIALS, REGION, use_utc
from refund_local.moto_patches import snapshots
from refund_local.moto_patches.atomic import make_dynamodb_calls_atomic
from refund_local.moto_patches.speed import make_moto_fast
from refund_local.moto_patches.waits import make_waits_exact
from refund_local.provision import Stack, load_template, provision

_FAKE_AWS_ENV = {
    **CREDENTIALS,
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    # Current botocore sends DynamoDB Streams calls to an account-based host that moto does not know.
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    "POWERTOOLS_SERVICE_NAME": "refunds",
    "POWERTOOLS_METRICS_NAMESPACE": "SmartSecurity/Refunds",
    "POWERTOOLS_TRACE_DISABLED": "true",
}


@functools.cache
def _client(service: str) -> Any:
    """One client of each service for every emulated AWS of the process: moto answers a client made before its
    mock started, from the backends of the mock running when it calls (a client costs 10 ms to make; a test
    provisions a whole stack)."""
    return boto3.client(service, region_name=REGION)  # type: ignore[call-overload]


# What provisioning made, by whether Step Functions runs its executions (moto keeps those apart): provisioned once
# per process, copied into each later emulated AWS.
_provisioned: dict[bool, tuple[Stack, snapshots.Snapshot]] = {}


def _provision(execute_state_machine: bool) -> Stack:
    kept = _provisioned.get(execute_state_machine)
    if kept is None:
        stack = provision(load_template(), _client)
        _provisioned[execute_state_machine] = (stack, snapshots.take())
        return stack
    stack, snapshot = kept
    snapshots.restore(snapshot)
    return stack


@dataclass
class LocalAws:
    """Start with `start()`, stop with `stop()`; the process environment points the handlers at it."""

    review_window_seconds: int | None = None
    execute_state_machine: bool = True
    extra_environment: dict[str, str] = field(default_factory=dict)
    table_names: dict[str, str] = field(default_factory=dict)
    state_machine_arn: str = ""
    environment: dict[str, str] = field(default_factory=dict)
    _mock: Any = None
    _saved_environment: dict[str, str | None] = field(default_factory=dict)

    def start(self) -> LocalAws:
        use_utc()
        self._set_environment(_FAKE_AWS_ENV)
        self._mock = mock_aws(
            config={
                "stepfunctions": {"execute_state_machine": self.execute_state_machine},
                # boto3's default session kept from one emulated AWS to the next: it caches the service models a
                # client is made from (made afresh, they were read from disk again for every stack).
                "core": {**default_user_config["core"], "reset_boto3_session": False},
            }
        )
        self._mock.start()
        make_dynamodb_calls_atomic()
        make_moto_fast()
        make_waits_exact()
        stack = _provision(self.execute_state_machine)
        self.table_names, self.state_machine_arn = stack.table_names, stack.state_machine_arn
        self.environment = dict(stack.environment)
        if self.review_window_seconds is not None:
            self.environment["REVIEW_WINDOW_SECONDS"] = str(self.review_window_seconds)
        self.environment |= self.extra_environment
        self._set_environment(self.environment)
        self._reset_caches()
        return self

    def stop(self) -> None:
        """Stop running executions first: they outlive mock_aws in their own threads."""
        if self._mock is None:
            return
        sfn = _client("stepfunctions")
        running = sfn.list_executions(stateMachineArn=self.state_machine_arn, statusFilter="RUNNING")
        for execution in running.get("executions", []):
            with contextlib.suppress(AttributeError):  # moto: an execution whose worker has not begun
                sfn.stop_execution(executionArn=execution["executionArn"])
        self._mock.stop()
        self._mock = None
        for name, value in self._saved_environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_environment.clear()
        self._reset_caches()

    def _set_environment(self, values: dict[str, str]) -> None:
        for name, value in values.items():
            self._saved_environment.setdefault(name, os.environ.get(name))
            os.environ[name] = value

    @staticmethod
    def _reset_caches() -> None:
        settings.cache_clear()
        # The AWS clients are kept: moto answers a client from the mock running when it calls, and each costs
        # 5 ms to make (a test made six). What was read through them is forgotten.
        policy_store.forget_cached_versions()
        idempotency.reset()
        letters.reset()
        stripe_refunds.reset()
