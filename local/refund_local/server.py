"""`refund-local serve`: the API's routes from template.yaml over HTTP (werkzeug), each request turned into an
API Gateway REST proxy event and handed to its function's workers (refund_local.workers); AWS emulated by
moto's server in this process (refund_local.emulator); the requests table's stream fed to the notifier's
workers; the emails SES accepted at /_local/outbox; records events in at POST /_local/events, the refused
ones at /_local/dead-letters; the OpenAPI document at /openapi.json and Swagger UI at /docs; with
`--data-dir`, the state kept across restarts (refund_local.state)."""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request as WsgiRequest
from werkzeug.wrappers import Response as WsgiResponse

from refund_local import evidence_bucket, inbox, records
from refund_local.emulator import Emulator
from refund_local.events import api_event
from refund_local.openapi import SWAGGER_ASSETS, SWAGGER_ASSETS_DIR, openapi_json, swagger_html
from refund_local.outbox import Outbox, OutboxMessage
from refund_local.processor import give_card_orders_payments, running_processor, use_processor
from refund_local.provision import (
    Route,
    Stack,
    Template,
    api_routes,
    function_environment,
    functions,
    provision,
    web_app_values,
)
from refund_local.queues import QueuePoller, Schedule, queue_sources, schedule_sources
from refund_local.state import DataDir
from refund_local.stream import StreamPoller, stream_sources
from refund_local.tokens import UnreadableToken, claims_from_authorization
from refund_local.webapp import SECURITY_HEADERS, SignInRefused, sign_in, web_file
from refund_local.workers import FunctionSpec, InvocationFailed, Invoker

log = logging.getLogger("refund_local")
# The template's records queue and its dead-letter queue (a logical id is the queue's name locally).
RECORDS_QUEUE, RECORDS_DEAD_LETTER_QUEUE = "RecordsQueue", "RecordsDeadLetterQueue"

# API Gateway itself accepts payloads up to 10 MB; no request of this API comes near 64 KiB (a reason is at
# most 2,000 characters), so the local runner refuses more before reading it.
MAX_BODY_BYTES = 64 * 1024
_DRAIN_LIMIT_BYTES = 16 * 1024 * 1024
_HOP_BY_HOP = {"connection", "content-length", "transfer-encoding", "keep-alive"}
JSON = "application/json"
SAVE_EVERY_SECONDS = 5.0


@dataclass(frozen=True)
class ApiRoute:
    route: Route
    pattern: re.Pattern[str]


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
    """The template's API routes, each bound to its function."""

    def __init__(self, routes: list[Route]) -> None:
        self.routes = [ApiRoute(route=route, pattern=_path_pattern(route.path)) for route in routes]

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


# The template's parameters the runner sets: a version published "now" takes effect within 2 s, not a minute.
LOCAL_PARAMETERS = {"PolicyCacheSeconds": "2"}


@dataclass(frozen=True)
class RunnerOptions:
    review_window_seconds: int | None = None
    data_dir: Path | None = None
    reset: bool = False
    max_workers: int = 4
    # One worker per function started before serving (the first calls are not cold starts), or none.
    warm_up: bool = True
    verbose: bool = False
    schedules_every_seconds: float | None = None
    powertools_environment: dict[str, str] = field(default_factory=dict)
    # Where the runner serves the web app: the Control Panel the emails link to.
    base_url: str = "http://127.0.0.1:3000"


def _worker_base_environment(emulator: Emulator, options: RunnerOptions, processor: dict[str, str]) -> dict[str, str]:
    """What every worker has besides its function's variables: what a Lambda environment has (a path, a
    locale, UTC), the emulator as its AWS, the local card processor, Powertools' local settings."""
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        **emulator.environment(),
        **processor,
        # The evidence's links name this runner, which plays S3 for the browser (refund_local/evidence_bucket.py).
        "S3_LINKS_ENDPOINT_URL": options.base_url + evidence_bucket.PREFIX.rstrip("/"),
        **options.powertools_environment,
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    if options.review_window_seconds is not None:
        environment["REVIEW_WINDOW_SECONDS"] = str(options.review_window_seconds)
    return environment


class LocalRunner:
    """Everything `serve` runs: emulated AWS, its state, seeded data, the workers, the stream pollers, the
    outbox and the API."""

    def __init__(self, template: Template, options: RunnerOptions) -> None:
        self._template = template
        self._options = options
        self._emulator = Emulator()
        self._in_flight = 0
        self._stopping = False
        self._idle = threading.Condition()
        self.outbox = Outbox(echo=self._echo)
        self.api = LocalApi(api_routes(template))
        self.invoker: Invoker | None = None
        self.pollers: list[StreamPoller] = []
        self.queue_pollers: list[QueuePoller] = []
        self.schedules: list[Schedule] = []
        self.stack: Stack | None = None
        self.restored = False
        self._has_state = False
        self._running = False
        self.data_dir = DataDir(options.data_dir, template) if options.data_dir else None
        self._documents: tuple[str, str] | None = None
        self._documents_lock = threading.Lock()
        self._saver_stop = threading.Event()
        self._saver: threading.Thread | None = None
        self._processor = contextlib.ExitStack()

    @staticmethod
    def _echo(message: OutboxMessage) -> None:
        log.info("%s", message.for_console())

    def open_state(self) -> None:
        """Checks (and with --reset empties) the data dir before anything starts; raises IncompatibleState."""
        self._has_state = self.data_dir.open(self._options.reset) if self.data_dir else False

    def start(self, seed: Callable[[bool], None]) -> LocalRunner:
        """`seed(restored)` writes the seed (or the demo data) once the tables exist."""
        has_state = self._has_state
        self._emulator.start()
        self.stack = provision(self._template, self._emulator.client)
        # The card processor (localstripe), its key and signing secret in the emulated Secrets Manager.
        processor_base = self._processor.enter_context(running_processor())
        processor = use_processor(
            self._emulator.client("secretsmanager"), processor_base, self._options.base_url + "/webhooks/stripe"
        )
        # The runner itself (seeding, restarting deadlines) uses refund_core as the functions do.
        os.environ.update(self._emulator.environment() | self.stack.environment | processor)
        if self._options.review_window_seconds is not None:
            os.environ["REVIEW_WINDOW_SECONDS"] = str(self._options.review_window_seconds)
        if self.data_dir and has_state:
            self.outbox.restore(self.data_dir.restore())
            self.restored = True
        seeding = time.perf_counter()
        seed(self.restored)
        paying = time.perf_counter()
        paid = give_card_orders_payments(processor_base)
        log.info(
            "seed written in %.1f s; card payments made at localstripe for %d orders in %.1f s",
            paying - seeding,
            paid,
            time.perf_counter() - paying,
        )
        base = _worker_base_environment(self._emulator, self._options, processor)
        specs = [
            FunctionSpec(
                name=function.name,
                code_uri=function.code_uri,
                handler=function.handler,
                environment={
                    **base,
                    **function_environment(
                        self._template,
                        self.stack.refs,
                        function=function.name,
                        parameters=LOCAL_PARAMETERS,
                        local_values=web_app_values(self._options.base_url),
                    ),
                    "AWS_LAMBDA_FUNCTION_NAME": function.name,
                    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
                },
                timeout_seconds=function.timeout_seconds,
                memory_mb=function.memory_mb,
            )
            for function in functions(self._template)
        ]
        self.invoker = Invoker(specs, self._options.max_workers, echo_logs=self._options.verbose)
        if self._options.warm_up:
            self.invoker.warm_up()
        streams = self._emulator.client("dynamodbstreams")
        dynamodb = self._emulator.client("dynamodb")
        invoker = self.invoker
        for source in stream_sources(self._template):
            stream_arn = dynamodb.describe_table(TableName=self.stack.table_names[source.table])["Table"][
                "LatestStreamArn"
            ]

            def invoke(event: dict[str, Any], function: str = source.function) -> Any:
                return invoker.invoke(function, event)

            poller = StreamPoller(source, stream_arn, invoke, streams=streams)
            self.pollers.append(poller.start())
        sqs = self._emulator.client("sqs")
        for queue in queue_sources(self._template):

            def deliver(event: dict[str, Any], function: str = queue.function) -> Any:
                return invoker.invoke(function, event)

            self.queue_pollers.append(QueuePoller(queue, self.stack.queue_urls[queue.queue], deliver, sqs).start())
        for schedule in schedule_sources(self._template, self._options.schedules_every_seconds):

            def run(event: dict[str, Any], function: str = schedule.function) -> Any:
                return invoker.invoke(function, event)

            self.schedules.append(Schedule(schedule, run).start())
        if self.restored:
            self._restart_review_deadlines()
        self.outbox.start()
        self._running = True
        if self.data_dir is not None:
            self._saver = threading.Thread(target=self._save_while_running, name="saver", daemon=True)
            self._saver.start()
        return self

    def _restart_review_deadlines(self) -> None:
        """Every pending request's deadline workflow again (the emulator keeps no executions across a
        restart): a reminder or deadline that passed while the runner was down fires now, once; one already
        recorded is not repeated (its conditional writes find it done)."""
        from refund_core.adapters import request_reads, workflow  # noqa: PLC0415 - the environment is set by now
        from refund_core.policy.models import RequestStatus  # noqa: PLC0415

        count, token = 0, None
        while True:
            pending = request_reads.RequestFilter(status=RequestStatus.PENDING)
            page = request_reads.list_requests(narrowed=pending, limit=100, next_token=token)
            for request in page.items:
                workflow.start_review_deadline(request)
                count += 1
            if page.next_token is None:
                break
            token = page.next_token
        log.info("restarted the review deadlines of %d pending requests", count)

    def _save_while_running(self) -> None:
        from refund_local.moto_patches.atomic import writes_so_far  # noqa: PLC0415

        saved_at = writes_so_far()
        while not self._saver_stop.wait(SAVE_EVERY_SECONDS):
            if writes_so_far() != saved_at or self.outbox.changed_since_save():
                saved_at = writes_so_far()
                self._save()

    def _save(self) -> None:
        if self.data_dir is not None:
            messages = self.outbox.messages()
            self.data_dir.save([message.as_json(number) for number, message in enumerate(messages)])
            self.outbox.mark_saved(len(messages))

    def stop(self, grace_seconds: float = 5.0) -> None:
        """Let the invocations in flight finish and start no other; stop the deadline executions; let the
        stream pollers deliver what the stream holds; save the state; then stop the workers and the emulator.
        Nothing may call AWS once the emulator is gone."""
        with self._idle:
            self._stopping = True
            self._idle.wait_for(lambda: self._in_flight == 0, timeout=grace_seconds)
        self._saver_stop.set()
        if self._saver is not None:
            self._saver.join(30)
        if self.stack is not None:
            self._stop_executions()
        for schedule in self.schedules:
            schedule.stop()
        for poller in self.pollers:
            poller.drain(timeout=grace_seconds)
            poller.stop()
        # Every queue at once: each finish waits out a receive of up to a second.
        with ThreadPoolExecutor(max_workers=max(1, len(self.queue_pollers))) as finishing:
            list(finishing.map(lambda queue_poller: queue_poller.finish(timeout=grace_seconds), self.queue_pollers))
        if self._running:
            self.outbox.stop()
            self._save()
        if self.invoker is not None:
            self.invoker.close()
        self._processor.close()
        self._emulator.stop()

    def _stop_executions(self) -> None:
        assert self.stack is not None
        sfn = self._emulator.client("stepfunctions")
        pages = sfn.get_paginator("list_executions").paginate(
            stateMachineArn=self.stack.state_machine_arn, statusFilter="RUNNING"
        )
        for page in pages:
            for execution in page.get("executions", []):
                try:
                    sfn.stop_execution(executionArn=execution["executionArn"])
                except Exception:  # an execution ending meanwhile: nothing to stop
                    log.debug("execution %s already ended", execution["executionArn"])

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

    def _put_events(self, body: bytes) -> Response:
        assert self.stack is not None
        answer = records.put_events(self._emulator.client("events"), self.stack.environment["EVENT_BUS_NAME"], body)
        return json_response(answer.status, answer.body)

    def _receive_letter(self, request: Request, query: str) -> Response:
        assert self.stack is not None
        letters = inbox.Inbox(
            self._emulator.client("s3"), self._emulator.client("sqs"), self.stack.refs[inbox.LETTERS_QUEUE]
        )
        answer = inbox.receive(
            letters,
            request.body,
            request.header("Content-Type"),
            dict(parse_qsl(query, keep_blank_values=True)),
        )
        return json_response(answer.status, answer.body)

    def _evidence_bucket(self, request: Request, path: str, query: str) -> Response:
        bucket, _, key = path.removeprefix(evidence_bucket.PREFIX).partition("/")
        s3 = self._emulator.client("s3")
        if request.method == "POST" and not key:
            answer = evidence_bucket.post_object(s3, bucket, request.header("Content-Type") or "", request.body)
        elif request.method == "GET" and key:
            answer = evidence_bucket.get_object(s3, path, query, request.header("Host") or "")
        else:
            return error_response(405, "method not allowed", [("Allow", "POST, GET")])
        return Response(answer.status, answer.body, answer.headers)

    def local_route(self, path: str, query: str) -> Callable[[], Response] | None:
        """The runner's own GET routes (no token): outbox, dead letters, OpenAPI document, Swagger UI."""
        if path == "/_local/dead-letters":
            return lambda: json_response(
                200,
                {
                    "deadLetters": records.dead_letters(RECORDS_DEAD_LETTER_QUEUE),
                    "waiting": records.waiting(RECORDS_QUEUE),
                },
            )
        if path == "/_local/outbox":
            return self._outbox_listing
        if found := re.fullmatch(r"/_local/outbox/(\d+)\.html", path):
            return lambda: self._outbox_page(int(found.group(1)))
        # Swagger UI's page links its document as /docs?format=json.
        if path == "/openapi.json" or (path == "/docs" and ("format", "json") in parse_qsl(query)):
            return lambda: Response(200, self._api_documents()[0].encode(), [("Content-Type", JSON)])
        if path == "/docs":
            return lambda: Response(
                200, self._api_documents()[1].encode(), [("Content-Type", "text/html; charset=utf-8")]
            )
        asset = path.removeprefix("/docs/")
        if asset in SWAGGER_ASSETS:
            return lambda: Response(
                200, (SWAGGER_ASSETS_DIR / asset).read_bytes(), [("Content-Type", SWAGGER_ASSETS[asset])]
            )
        return None

    def _outbox_listing(self) -> Response:
        """Every email SES accepted, up to this moment: taken in now, not at the collector's next look, so that an
        email a request's history already records as sent is always listed."""
        self.outbox.collect()
        return json_response(200, {"messages": self.outbox.as_json()})

    def _api_documents(self) -> tuple[str, str]:
        """The OpenAPI document and its Swagger UI page, made at the first request for either: it imports every
        API function's module and builds its schema, half a second of a start that most runs never ask for."""
        with self._documents_lock:
            if self._documents is None:
                document = openapi_json(self._template)
                self._documents = (document, swagger_html(document))
            return self._documents

    def _outbox_page(self, number: int) -> Response:
        messages = self.outbox.messages()
        if number >= len(messages):
            return error_response(404, f"the outbox holds {len(messages)} messages")
        # On the web app's own origin: sandboxed (no script, no access to the app's storage), as a mail program
        # shows an email.
        headers = [("Content-Type", "text/html; charset=utf-8"), ("Content-Security-Policy", EMAIL_PAGE_POLICY)]
        return Response(200, messages[number].html.encode(), headers)

    def handle(self, request: Request) -> Response:
        target = urlsplit(request.target)
        if target.path == "/_local/events":
            if request.method != "POST":
                return error_response(405, "method not allowed", [("Allow", "POST")])
            return self._put_events(request.body)
        if target.path == "/_local/inbox":
            if request.method != "POST":
                return error_response(405, "method not allowed", [("Allow", "POST")])
            return self._receive_letter(request, target.query)
        if target.path.startswith(evidence_bucket.PREFIX):
            return self._evidence_bucket(request, target.path, target.query)
        if target.path == "/_local/sign-in":
            if request.method != "POST":
                return error_response(405, "method not allowed", [("Allow", "POST")])
            try:
                return json_response(200, {"token": sign_in(request.body)})
            except SignInRefused as refused:
                return json_response(
                    400, {"message": str(refused), "errors": [{"field": refused.field, "message": str(refused)}]}
                )
        if request.method == "GET" and (page := web_file(target.path)) is not None:
            return Response(200, page.body, [("Content-Type", page.content_type), *SECURITY_HEADERS])
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
            claims = claims_from_authorization(request.header("Authorization")) if route.route.signed_in else None
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
            if not running or self.invoker is None:
                return error_response(503, "refund-local is stopping")
            try:
                result = self.invoker.invoke(route.route.function, event)
            except InvocationFailed:  # the function crashed or timed out: API Gateway answers 502
                log.exception("%s failed", route.route.function)
                return error_response(502, "Internal server error")
        return proxy_response(result)


EMAIL_PAGE_POLICY = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"


class _RequestHandler(WSGIRequestHandler):
    # TCP_NODELAY: the headers and the body go out in two writes, and with Nagle's algorithm the body waited
    # for the client's delayed ACK of the headers.
    disable_nagle_algorithm = True
    timeout = 60

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Silenced: the application logs one line per request."""


class _Application:
    """The WSGI application: what must be refused before a body is read, then the runner."""

    def __init__(self, runner: LocalRunner) -> None:
        self.runner = runner

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        started = time.perf_counter()
        wsgi_request = WsgiRequest(environ)
        response = self._answer(environ, wsgi_request)
        elapsed = (time.perf_counter() - started) * 1000
        target = environ.get("RAW_URI") or wsgi_request.full_path
        log.info("%s %s %d %.0f ms", wsgi_request.method, target, response.status, elapsed)
        wsgi_response = WsgiResponse(response.body, status=response.status)
        wsgi_response.headers.clear()
        for name, value in response.headers:
            wsgi_response.headers.add(name, value)
        wsgi_response.headers["Content-Length"] = str(len(response.body))
        return wsgi_response(environ, start_response)

    def _answer(self, environ: dict[str, Any], wsgi_request: WsgiRequest) -> Response:
        if "chunked" in (environ.get("HTTP_TRANSFER_ENCODING") or "").lower():
            return error_response(411, "send the body with a Content-Length")
        declared = environ.get("CONTENT_LENGTH") or "0"
        if not declared.isdigit():
            return error_response(400, "Content-Length is not a number of bytes")
        length = int(declared)
        # A letter is a whole raw message, which may be far larger than any API body.
        limit = inbox.MAX_MESSAGE_BYTES if wsgi_request.path == "/_local/inbox" else MAX_BODY_BYTES
        if wsgi_request.path.startswith(evidence_bucket.PREFIX):
            limit = evidence_bucket.MAX_FORM_BYTES
        if length > limit:
            if length <= _DRAIN_LIMIT_BYTES:
                _discard(environ["wsgi.input"], length)
            return error_response(413, f"the body is {length} bytes; refund-local takes at most {limit}")
        body = environ["wsgi.input"].read(length) if length else b""
        target = environ.get("RAW_URI") or wsgi_request.full_path
        request = Request(wsgi_request.method, target, list(wsgi_request.headers.items()), body)
        try:
            return self.runner.handle(request)
        except Exception:  # a fault of the runner itself: JSON like every other answer, never werkzeug's page
            log.exception("refund-local failed on %s %s", wsgi_request.method, target)
            return error_response(500, "refund-local failed; its log says why")


def _discard(stream: Any, length: int) -> None:
    """Read and drop a refused body, so that the client reads the answer instead of a reset connection."""
    remaining = length
    while remaining > 0:
        chunk = stream.read(min(remaining, 65536))
        if not chunk:
            break
        remaining -= len(chunk)


def http_server(host: str, port: int, runner: LocalRunner) -> BaseWSGIServer:
    """A threaded werkzeug server for the runner (one thread per connection)."""
    return make_server(host, port, _Application(runner), threaded=True, request_handler=_RequestHandler)
