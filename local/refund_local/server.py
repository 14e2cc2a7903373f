"""`refund-local serve`: the API's routes from template.yaml over HTTP, each request turned into an API
Gateway REST proxy event for the real handler; the requests table's stream fed to the notifier; the emails
SES accepted at /_local/outbox; the OpenAPI document at /openapi.json and Swagger UI at /docs."""

from __future__ import annotations

import base64
import json
import logging
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import boto3

from refund_core.adapters import clients
from refund_local.events import api_event
from refund_local.handlers import Handler, LambdaContext, load_handler
from refund_local.openapi import SWAGGER_ASSETS, SWAGGER_ASSETS_DIR, openapi_json, swagger_html
from refund_local.outbox import Outbox, OutboxMessage
from refund_local.provision import Route, api_routes, load_template
from refund_local.seed import Seed, write_seed
from refund_local.stack import REGION, LocalAws
from refund_local.stream import StreamPoller, stream_sources
from refund_local.tokens import UnreadableToken, claims_from_authorization

log = logging.getLogger("refund_local")

# API Gateway itself accepts payloads up to 10 MB; no request of this API comes near 64 KiB (a reason is at
# most 2,000 characters), so the local runner refuses more before reading it.
MAX_BODY_BYTES = 64 * 1024
_DRAIN_LIMIT_BYTES = 16 * 1024 * 1024
_HOP_BY_HOP = {"connection", "content-length", "transfer-encoding", "keep-alive"}
JSON = "application/json"


@dataclass(frozen=True)
class ApiRoute:
    route: Route
    pattern: re.Pattern[str]
    handler: Handler


def _path_pattern(template_path: str) -> re.Pattern[str]:
    """`/refund-requests/{requestId}` → a pattern with one named group per path parameter (one segment)."""
    parts = re.split(r"\{([^}/]+)\}", template_path)
    regex = "".join(re.escape(part) if index % 2 == 0 else f"(?P<{part}>[^/]+)" for index, part in enumerate(parts))
    return re.compile(f"^{regex}$")


@dataclass
class Response:
    status: int
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)


def json_response(status: int, body: Any, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(status, json.dumps(body).encode(), [("Content-Type", JSON), *(headers or [])])


def error_response(status: int, message: str, headers: list[tuple[str, str]] | None = None) -> Response:
    return json_response(status, {"message": message}, headers)


def proxy_response(result: Any) -> Response:
    """A Lambda proxy integration's answer as API Gateway returns it; a malformed one is API Gateway's 502."""
    if not isinstance(result, dict) or not isinstance(result.get("statusCode"), int):
        return error_response(502, "Internal server error")
    values: dict[str, tuple[str, list[str]]] = {}
    for name, items in (result.get("multiValueHeaders") or {}).items():
        values[name.lower()] = (name, [str(item) for item in items])
    for name, value in (result.get("headers") or {}).items():
        values.setdefault(name.lower(), (name, [str(value)]))
    headers = [(name, item) for key, (name, items) in values.items() if key not in _HOP_BY_HOP for item in items]
    body = result.get("body") or ""
    data = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    return Response(result["statusCode"], data, headers)


class LocalApi:
    """The template's API routes, each bound to its function's handler.

    Powertools keeps the event being resolved on the resolver's class (`BaseRouter.current_event`), shared by
    every function's resolver in this process: two invocations resolving at once would read each other's
    event and claims. So one API invocation runs at a time in the process (`resolver_lock`)."""

    def __init__(self, routes: list[Route]) -> None:
        self.routes = [
            ApiRoute(
                route=route, pattern=_path_pattern(route.path), handler=load_handler(route.code_uri, route.handler)
            )
            for route in routes
        ]
        self.resolver_lock = threading.Lock()

    def resolve(self, method: str, raw_path: str) -> tuple[ApiRoute | None, dict[str, str], list[str]]:
        """(the route, its decoded path parameters, the methods the path allows)."""
        allowed: list[str] = []
        for candidate in self.routes:
            found = candidate.pattern.match(raw_path)
            if found is None:
                continue
            if candidate.route.method == method:
                return candidate, {name: unquote(value) for name, value in found.groupdict().items()}, []
            allowed.append(candidate.route.method)
        return None, {}, allowed


@dataclass
class Request:
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((value for key, value in reversed(self.headers) if key.lower() == name.lower()), None)


class LocalRunner:
    """Everything `serve` runs: emulated AWS, seeded data, the stream poller, the outbox and the API."""

    def __init__(self, seed: Seed, review_window_seconds: int | None = None) -> None:
        self._seed = seed
        self._aws = LocalAws(review_window_seconds=review_window_seconds)
        self._in_flight = 0
        self._stopping = False
        self._idle = threading.Condition()
        self.outbox = Outbox(echo=self._echo)
        self.api: LocalApi
        self.pollers: list[StreamPoller] = []
        self.openapi_json = ""
        self._docs_html = ""

    @staticmethod
    def _echo(message: OutboxMessage) -> None:
        log.info("%s", message.for_console())

    def start(self, extra_environment: dict[str, str]) -> LocalRunner:
        self._aws.extra_environment = extra_environment
        self._aws.start()
        template = load_template()
        write_seed(self._seed)
        self.outbox.attach(clients.ses())
        self.api = LocalApi(api_routes(template))
        self.openapi_json = openapi_json(template)
        self._docs_html = swagger_html(self.openapi_json)
        streams = boto3.client("dynamodbstreams", region_name=REGION)
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        for source in stream_sources(template):
            table = self._aws.table_names[source.table]
            stream_arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
            handler = load_handler(source.code_uri, source.handler)
            # The stream's function resolves no HTTP event: its own lock, one batch at a time like one container.
            poller = StreamPoller(
                source, stream_arn, handler, invocation_lock=threading.Lock(), streams=streams, region=REGION
            )
            self.pollers.append(poller.start())
        return self

    def stop(self, grace_seconds: float = 5.0) -> None:
        """Let the invocations in flight finish and start no other, then stop the pollers and emulated AWS:
        nothing may call AWS once moto is gone, or the call would leave the machine."""
        with self._idle:
            self._stopping = True
            self._idle.wait_for(lambda: self._in_flight == 0, timeout=grace_seconds)
        for poller in self.pollers:
            poller.stop()
        self._aws.stop()

    @contextmanager
    def _invocation(self) -> Iterator[bool]:
        """Yields whether the function may run (False once stopping)."""
        with self._idle:
            if self._stopping:
                yield False
                return
            self._in_flight += 1
        try:
            yield True
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()

    def local_route(self, path: str, query: str) -> Callable[[], Response] | None:
        """The runner's own GET routes (no token): outbox, OpenAPI document, Swagger UI and its assets."""
        if path == "/_local/outbox":
            return lambda: json_response(200, {"messages": [message.as_json() for message in self.outbox.messages()]})
        # Swagger UI's page links its document as /docs?format=json.
        if path == "/openapi.json" or (path == "/docs" and ("format", "json") in parse_qsl(query)):
            return lambda: Response(200, self.openapi_json.encode(), [("Content-Type", JSON)])
        if path == "/docs":
            return lambda: Response(200, self._docs_html.encode(), [("Content-Type", "text/html; charset=utf-8")])
        asset = path.removeprefix("/docs/")
        if asset in SWAGGER_ASSETS:
            return lambda: Response(
                200, (SWAGGER_ASSETS_DIR / asset).read_bytes(), [("Content-Type", SWAGGER_ASSETS[asset])]
            )
        return None

    def handle(self, request: Request) -> Response:
        target = urlsplit(request.target)
        local = self.local_route(target.path, target.query)
        if local is not None:
            return local() if request.method == "GET" else error_response(405, "method not allowed", [("Allow", "GET")])
        route, path_parameters, allowed = self.api.resolve(request.method, target.path)
        if route is None:
            if allowed:
                return error_response(
                    405, f"{request.method} is not allowed on {target.path}", [("Allow", ", ".join(allowed))]
                )
            return error_response(404, f"no route {request.method} {target.path}")
        try:
            claims = claims_from_authorization(request.header("Authorization"))
        except UnreadableToken as error:
            # What API Gateway's Cognito authorizer answers, without calling the function.
            return json_response(
                401, {"message": "Unauthorized", "errors": [{"field": "Authorization", "message": str(error)}]}
            )
        headers: dict[str, list[str]] = {}
        for name, value in request.headers:
            headers.setdefault(name, []).append(value)
        query: dict[str, list[str]] = {}
        for name, value in parse_qsl(target.query, keep_blank_values=True):
            query.setdefault(name, []).append(value)
        event = api_event(
            request.method,
            route.route.path,
            unquote(target.path),
            path_parameters=path_parameters,
            query=query,
            headers=headers,
            body=request.body.decode("utf-8", errors="replace") if request.body else None,
            claims=claims,
        )
        with self._invocation() as running:
            if not running:
                return error_response(503, "refund-local is stopping")
            try:
                with self.api.resolver_lock:
                    result = route.handler(event, LambdaContext(function_name=route.route.function))
            except Exception:  # the function crashed: API Gateway answers 502
                log.exception("%s failed", route.route.function)
                return error_response(502, "Internal server error")
        return proxy_response(result)


class _HttpHandler(BaseHTTPRequestHandler):
    server: LocalHttpServer
    protocol_version = "HTTP/1.1"
    timeout = 60
    # TCP_NODELAY: the headers and the body go out in two writes, and with Nagle's algorithm the body waited
    # for the client's delayed ACK of the headers: 40 ms more on every keep-alive answer.
    disable_nagle_algorithm = True

    def _serve(self) -> None:
        started = time.perf_counter()
        response = self._read_and_handle()
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)
        elapsed = (time.perf_counter() - started) * 1000
        log.info("%s %s %d %.0f ms", self.command, self.path, response.status, elapsed)

    def _read_and_handle(self) -> Response:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self.close_connection = True
            return error_response(411, "send the body with a Content-Length")
        try:
            length = int(self.headers.get("Content-Length") or 0)
            if length < 0:
                raise ValueError(length)
        except ValueError:
            self.close_connection = True
            return error_response(400, "Content-Length is not a number of bytes")
        if length > MAX_BODY_BYTES:
            self._discard(length)
            return error_response(413, f"the body is {length} bytes; refund-local takes at most {MAX_BODY_BYTES}")
        body = self.rfile.read(length) if length else b""
        request = Request(self.command, self.path, list(self.headers.items()), body)
        return self.server.runner.handle(request)

    def _discard(self, length: int) -> None:
        """Read and drop a refused body, so that the client reads the answer instead of a reset connection;
        past a sane size, close the connection instead."""
        if length > _DRAIN_LIMIT_BYTES:
            self.close_connection = True
            return
        remaining = length
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 65536))
            if not chunk:
                break
            remaining -= len(chunk)

    def __getattr__(self, name: str) -> Callable[[], None]:
        # http.server answers a method it has no `do_` for (TRACE, QUERY...) with 501 and an HTML page; every
        # method goes to the routes instead, which answer one a path does not take with 405.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: `_serve` logs one line per request."""


class LocalHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 overflows when dozens of clients connect at once while the handlers
    # hold the GIL: the kernel then resets connections that API Gateway would have taken.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], runner: LocalRunner) -> None:
        super().__init__(address, _HttpHandler)
        self.runner = runner

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # the client went away before its answer: nothing to report
        super().handle_error(request, client_address)
