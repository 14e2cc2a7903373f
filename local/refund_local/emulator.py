"""AWS for `refund-local serve`: moto's server mode in this process, reached over HTTP at an endpoint by
the function workers (AWS_ENDPOINT_URL), the stream poller and the runner, so that all of them, and the
Step Functions executions moto runs in its own threads, share one state.

The guard that makes moto's DynamoDB behave as DynamoDB under concurrency (refund_local.moto_patches.atomic) is
installed here, at the emulator, before the server takes its first call."""

from __future__ import annotations

import json
import logging
import os
import urllib.request
from typing import Any

import boto3
from botocore.config import Config
from moto.server import ThreadedMotoServer

from refund_local.environment import CREDENTIALS, REGION, use_utc
from refund_local.moto_patches.atomic import make_dynamodb_calls_atomic
from refund_local.moto_patches.speed import make_moto_fast
from refund_local.moto_patches.waits import make_waits_exact
from refund_local.processes import free_port


class Emulator:
    """`start()` gives the endpoint; `client(service)` a boto3 client for it; `stop()` ends the server."""

    def __init__(self, host: str = "127.0.0.1", execute_state_machine: bool = True) -> None:
        self._host = host
        self._execute_state_machine = execute_state_machine
        self._server: ThreadedMotoServer | None = None
        self.endpoint = ""

    def start(self) -> str:
        use_utc()
        # moto's server logs every call it takes (the stream is polled five times a second).
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        make_dynamodb_calls_atomic()
        make_moto_fast()
        make_waits_exact()
        port = free_port(self._host)
        # moto's Step Functions executor calls the other services at localhost:$MOTO_PORT.
        os.environ["MOTO_PORT"] = str(port)
        self._server = ThreadedMotoServer(ip_address=self._host, port=port, verbose=False)
        self._server.start()
        self.endpoint = f"http://{self._host}:{port}"
        self._configure({"stepfunctions": {"execute_state_machine": self._execute_state_machine}})
        return self.endpoint

    def _configure(self, config: dict[str, Any]) -> None:
        self._post("/moto-api/config", config)

    def _post(self, path: str, body: dict[str, Any]) -> None:
        request = urllib.request.Request(  # noqa: S310 - the emulator this process started
            f"{self.endpoint}{path}", data=json.dumps(body).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310
            pass

    def environment(self) -> dict[str, str]:
        """What a process needs to reach this emulator as its AWS."""
        return {
            **CREDENTIALS,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL": self.endpoint,
            # Current botocore sends DynamoDB Streams calls to an account-based host.
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        }

    def reset(self) -> None:
        """Every service back to empty (moto's reset)."""
        self._post("/moto-api/reset", {})

    def client(self, service: str) -> Any:
        return boto3.client(
            service,  # type: ignore[call-overload]
            region_name=REGION,
            endpoint_url=self.endpoint,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=CREDENTIALS["AWS_SESSION_TOKEN"],
            config=Config(retries={"mode": "standard"}, max_pool_connections=50),
        )

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
