"""Load the real Lambda handlers from functions/<job>/app.py, as `sam local` would, and invoke them."""

from __future__ import annotations

import importlib.util
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from types import ModuleType
from typing import Any

from refund_local.paths import REPO_ROOT

Handler = Callable[[dict[str, Any], Any], Any]


@cache
def load_module(code_uri: str) -> ModuleType:
    """functions/<job>/app.py as the module `functions_<job>_app` (every function's file is app.py)."""
    path = REPO_ROOT / code_uri / "app.py"
    name = "functions_" + code_uri.strip("/").split("/")[-1] + "_app"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_handler(code_uri: str, handler: str = "app.lambda_handler") -> Handler:
    function: Handler = getattr(load_module(code_uri), handler.split(".", 1)[1])
    return function


def _in_30_seconds() -> int:
    return int(time.time() * 1000) + 30_000


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that Powertools reads; `deadline_ms` (epoch milliseconds)
    is when the invocation would time out."""

    function_name: str = "local"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    invoked_function_arn: str = "arn:aws:lambda:ap-southeast-1:123456789012:function:local"
    log_group_name: str = "/aws/lambda/local"
    log_stream_name: str = "local"
    deadline_ms: int = field(default_factory=_in_30_seconds)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self.deadline_ms - int(time.time() * 1000))


def invoke(code_uri: str, event: dict[str, Any], function_name: str = "local") -> Any:
    return load_handler(code_uri)(event, LambdaContext(function_name=function_name))
