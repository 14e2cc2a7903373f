"""`make sam-local`: every events/*.json through the real SAM CLI (`sam local start-lambda`, warm containers),
against moto's server provisioned from template.yaml, each answer checked against events/expected.json.

Steps, each timed: Docker up (dockerd started if it is installed and not running); the Lambda base image
`public.ecr.aws/lambda/python:3.12-x86_64` (pulled; where no registry answers, a stand-in is built from
Debian bookworm, pyenv's Python 3.12 and awslambdaric, and the run says so); an image on top of it that
points the AWS SDK at the emulator (SAM's --env-vars only override declared variables); `sam build` for
x86_64 (the template's Architecture parameter); moto's server on the docker0 gateway, reachable from the
containers; then, per event, a fresh emulated stack, seeded as events/expected.json says, and the event
invoked through SAM. Exits 1 when an answer is not the documented one.

    .venv/bin/python scripts/sam_local.py [--keep-going]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from refund_local.emulator import Emulator
from refund_local.environment import CREDENTIALS, REGION
from refund_local.paths import REPO_ROOT
from refund_local.processes import free_port, stop
from refund_local.provision import api_routes, load_template, provision

BASE_IMAGE = "public.ecr.aws/lambda/python:3.12-x86_64"
INVOKE_IMAGE = "refund-local/sam-local-python:3.12-x86_64"
# The template's parameters without a default, as a deployment would give them (only their form matters here).
PARAMETERS = (
    "Architecture=x86_64",
    "WebAppDomainName=refunds.example.com",
    "WebAppCertificateArn=arn:aws:acm:us-east-1:123456789012:certificate/local-only",
)
WORK = REPO_ROOT / ".aws-sam" / "sam-local"
SAM = REPO_ROOT / ".venv-tools" / "bin" / "sam"
EVENTS = REPO_ROOT / "events"
PLACEHOLDER_REQUEST_ID = "rr_01JD0000000000000000000000"
# The function each kind of event in events/ is for (an API event's comes from its route).
EVENT_FUNCTIONS = {"stream": "NotifierFunction", "schedule": "ReconcilerFunction"}  # a queue event names its own
# What pyenv's Python 3.12 links against, beyond Debian's minimal base (ldd of the interpreter and its modules).
PYTHON_LIBRARIES = [
    "libssl3",
    "libsqlite3-0",
    "libexpat1",
    "libreadline8",
    "libncursesw6",
    "libtirpc3",
    "libnsl2",
    "libffi8",
    "libbz2-1.0",
    "liblzma5",
    "zlib1g",
    "libuuid1",
    "ca-certificates",
]
STAND_IN_ENV = {
    "LANG": "C.UTF-8",
    "TZ": ":UTC",
    "PATH": "/var/lang/bin:/usr/local/bin:/usr/bin:/bin",
    "LD_LIBRARY_PATH": "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib",
    "LAMBDA_TASK_ROOT": "/var/task",
    "LAMBDA_RUNTIME_DIR": "/var/runtime",
    "PYTHONPATH": "/var/task:/opt/python/lib/python3.12/site-packages:/opt/python:/var/runtime",
}
BOOTSTRAP = """#!/bin/sh
# Lambda's python3.12 runtime, stood in for: awslambdaric runs the function that _HANDLER names.
exec /var/lang/bin/python3.12 -m awslambdaric "$_HANDLER"
"""

timings: list[tuple[str, float]] = []


@contextlib.contextmanager
def step(name: str) -> Iterator[None]:
    print(f"sam-local: {name}...", flush=True)
    started = time.perf_counter()
    yield
    timings.append((name, time.perf_counter() - started))
    print(f"sam-local: {name}: {timings[-1][1]:.1f} s", flush=True)


def run(*command: str | Path, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(part) for part in command], check=True, text=True, **kwargs)


def docker_answers() -> bool:
    return subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0


def ensure_docker() -> None:
    if docker_answers():
        return
    if shutil.which("dockerd") is None:
        raise SystemExit("sam-local: Docker is not running and dockerd is not installed (apt-get install docker.io)")
    WORK.mkdir(parents=True, exist_ok=True)
    with (WORK / "dockerd.log").open("ab") as log:
        subprocess.Popen(["dockerd"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    give_up = time.monotonic() + 60
    while not docker_answers():
        if time.monotonic() > give_up:
            raise SystemExit(f"sam-local: dockerd did not answer within 60 s (see {WORK / 'dockerd.log'})")
        time.sleep(0.5)
    print("sam-local: started dockerd (its log: .aws-sam/sam-local/dockerd.log)")


def image_exists(name: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", name], capture_output=True, check=False).returncode == 0


def pulled(name: str) -> bool:
    try:
        return subprocess.run(["docker", "pull", name], capture_output=True, check=False, timeout=60).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def build_stand_in() -> None:
    """Debian bookworm (minbase) + the libraries Python needs + pyenv's Python 3.12 at /var/lang + awslambdaric
    and boto3 at /var/runtime (as Lambda's runtime has them), imported as the Lambda base image's name. SAM adds
    its own emulator on top."""
    root = WORK / "rootfs"
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    run("debootstrap", "--variant=minbase", "bookworm", root, "http://deb.debian.org/debian", capture_output=True)
    shutil.copy("/etc/resolv.conf", root / "etc" / "resolv.conf")
    run(
        "chroot",
        root,
        "apt-get",
        "install",
        "-y",
        "-q",
        "--no-install-recommends",
        *PYTHON_LIBRARIES,
        capture_output=True,
    )
    for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
        shutil.rmtree(root / cache, ignore_errors=True)
    python_home = Path(sys.base_prefix)
    shutil.copytree(
        python_home, root / "var" / "lang", symlinks=True, ignore=shutil.ignore_patterns("test", "site-packages")
    )
    (root / "var" / "lang" / "lib" / "python3.12" / "site-packages").mkdir()
    runtime = root / "var" / "runtime"
    run(
        sys.executable, "-m", "pip", "install", "--quiet", "--only-binary=:all:", "--platform", "manylinux2014_x86_64",
        "--python-version", "3.12", "--implementation", "cp", "--target", runtime, "awslambdaric", "boto3",
        capture_output=True,
    )  # fmt: skip
    (runtime / "bootstrap").write_text(BOOTSTRAP, encoding="utf-8")
    (runtime / "bootstrap").chmod(0o755)
    for folder in ("var/task", "opt"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    changes = [f"--change=ENV {name}={value}" for name, value in STAND_IN_ENV.items()] + ["--change=WORKDIR /var/task"]
    tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
    run("docker", "import", *changes, "-", BASE_IMAGE, stdin=tar.stdout, capture_output=True)
    tar.wait()


def docker_gateway() -> str:
    """The host's address on Docker's default bridge: where a container reaches a server of the host."""
    bridge = json.loads(run("docker", "network", "inspect", "bridge", capture_output=True).stdout)[0]
    name = bridge.get("Options", {}).get("com.docker.network.bridge.name", "docker0")
    addresses = json.loads(run("ip", "-j", "-4", "addr", "show", "dev", name, capture_output=True).stdout)
    return str(addresses[0]["addr_info"][0]["local"])


def build_invoke_image(endpoint: str) -> None:
    environment = {
        **CREDENTIALS,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    with tempfile.TemporaryDirectory() as context:
        dockerfile = Path(context) / "Dockerfile"
        lines = [f"FROM {BASE_IMAGE}", *(f"ENV {name}={value}" for name, value in environment.items())]
        dockerfile.write_text("\n".join(lines) + "\n", encoding="utf-8")
        run("docker", "build", "--quiet", "--tag", INVOKE_IMAGE, context, capture_output=True)


SEED_DAYS_AGO = 40


def seed_document() -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "customers": [{"username": "alice", "email": "alice@example.com"}],
        "orders": [
            {
                "orderId": "ord-1001", "username": "alice", "orderedAt": (now - timedelta(days=SEED_DAYS_AGO)).isoformat(),
                "amount": "100.00", "currency": "USD", "paymentChannel": "card", "kind": "new",
                "servicePeriodDays": 365, "paymentState": "settled", "trafficBytes": 1_200_000_000, "connections": 12,
            }
        ],
        "tickets": [
            {
                "ticketId": "T-77", "username": "alice", "openedAt": (now - timedelta(days=2)).isoformat(),
                "category": "technical", "officialResponse": "cannot_fix",
            }
        ],
    }  # fmt: skip


def fresh_stack(emulator: Emulator) -> None:
    from refund_core.adapters import clients  # noqa: PLC0415 - once the environment points at the emulator
    from refund_core.settings import settings  # noqa: PLC0415
    from refund_local.seed import parse_seed, write_seed  # noqa: PLC0415

    emulator.reset()
    stack = provision(load_template(), emulator.client)
    os.environ.update(stack.environment)
    settings.cache_clear()
    clients.reset()
    write_seed(parse_seed(seed_document()))


def on_request(event: dict[str, Any], request_id: str) -> dict[str, Any]:
    text = json.dumps(event).replace(PLACEHOLDER_REQUEST_ID, request_id)
    answer: dict[str, Any] = json.loads(text)
    return answer


def function_of(event: dict[str, Any]) -> str:
    routes = {(route.method, route.path): route.function for route in api_routes(load_template())}
    return routes[(event["httpMethod"], event["resource"])]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep-going", action="store_true", help="run every event even after a wrong answer")
    args = parser.parse_args()
    expected = json.loads((EVENTS / "expected.json").read_text(encoding="utf-8"))
    WORK.mkdir(parents=True, exist_ok=True)
    with step("Docker"):
        ensure_docker()
    with step("Lambda base image"):
        if image_exists(BASE_IMAGE):
            print(f"sam-local: {BASE_IMAGE} is here already")
        elif pulled(BASE_IMAGE):
            print(f"sam-local: pulled {BASE_IMAGE}")
        else:
            print(f"sam-local: no registry answers: building a stand-in for {BASE_IMAGE} (Debian + Python 3.12)")
            build_stand_in()
    gateway = docker_gateway()
    emulator = Emulator(host=gateway, execute_state_machine=False)
    with step(f"moto's server on the docker0 gateway {gateway}"):
        endpoint = emulator.start()
        os.environ.update(emulator.environment())
    with step("invoke image (the AWS SDK pointed at the emulator)"):
        build_invoke_image(endpoint)
    build_dir = WORK / "build"
    with step("sam build (x86_64)"):
        run(
            SAM, "build", "--template", REPO_ROOT / "template.yaml", "--build-dir", build_dir,
            "--parameter-overrides", *PARAMETERS, cwd=REPO_ROOT, capture_output=True,
            env={**os.environ, "LAYER_ARCHITECTURE": "x86_64"},  # layers/refund_core/Makefile's wheels
        )  # fmt: skip
    fresh_stack(emulator)
    env_vars = WORK / "env-vars.json"
    env_vars.write_text(
        json.dumps(
            {
                "Parameters": {
                    name: os.environ[name]
                    for name in (
                        "REVIEW_DEADLINE_STATE_MACHINE_ARN",
                        "DELIVERY_QUEUE_URL",
                        "RECORDS_DEAD_LETTER_QUEUE_URL",
                    )
                }
            }
        )
    )
    port = free_port()
    log = (WORK / "start-lambda.log").open("w")
    sam = subprocess.Popen(
        [
            str(SAM), "local", "start-lambda", "--template", str(build_dir / "template.yaml"), "--host", "127.0.0.1",
            "--port", str(port), "--warm-containers", "EAGER", "--skip-pull-image", "--invoke-image", INVOKE_IMAGE,
            "--env-vars", str(env_vars), "--parameter-overrides", *PARAMETERS,
        ],
        cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, env=os.environ | {"SAM_CLI_TELEMETRY": "0"},
    )  # fmt: skip
    lambda_client = boto3.client(
        "lambda",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name=REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(read_timeout=120, retries={"max_attempts": 0}),
    )

    def invoke(function: str, event: dict[str, Any]) -> Any:
        response = lambda_client.invoke(FunctionName=function, Payload=json.dumps(event).encode())
        return json.loads(response["Payload"].read())

    rows: list[tuple[str, str, str, str, float]] = []
    failed = 0
    try:
        with step("sam local start-lambda, warm containers for every function"):
            give_up = time.monotonic() + 300
            while True:
                if sam.poll() is not None:
                    raise SystemExit(f"sam-local: start-lambda exited; see {WORK / 'start-lambda.log'}")
                with contextlib.suppress(Exception):
                    invoke("ReadFunction", json.loads((EVENTS / "api_list_own.json").read_text()))
                    break
                if time.monotonic() > give_up:
                    raise SystemExit(f"sam-local: start-lambda did not answer; see {WORK / 'start-lambda.log'}")
                time.sleep(1)
        with step("every event"):
            for kind, entries in ((kind, expected[kind]) for kind in ("api", "stream", "queue", "schedule")):
                for name, want in entries.items():
                    fresh_stack(emulator)
                    event = json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8"))
                    if want.get("onPendingRequest"):
                        created = invoke("SubmitFunction", json.loads((EVENTS / "api_submit.json").read_text()))
                        event = on_request(event, json.loads(created["body"])["requestId"])
                    function = function_of(event) if kind == "api" else want.get("function") or EVENT_FUNCTIONS[kind]
                    started = time.perf_counter()
                    answer = invoke(function, event)
                    elapsed = (time.perf_counter() - started) * 1000
                    if kind == "api":
                        wanted, got = str(want["status"]), str(answer.get("statusCode"))
                    elif kind == "schedule":
                        wanted, got = json.dumps(want["answer"]), json.dumps(answer)
                    else:
                        wanted = json.dumps(want["batchItemFailures"])
                        got = json.dumps(answer.get("batchItemFailures"))
                    rows.append((name, function, wanted, got, elapsed))
                    if wanted != got:
                        failed += 1
                        print(f"sam-local: {name}: wanted {wanted}, got {json.dumps(answer)[:400]}")
                        if not args.keep_going:
                            raise SystemExit(1)
    finally:
        stop(sam, timeout_seconds=60)
        log.close()
        emulator.stop()
    width = max(len(row[0]) for row in rows)
    print(f"\n{'event':<{width}}  {'function':<17} {'wanted':>8} {'got':>8} {'ms':>7}")
    for name, function, wanted, got, elapsed in rows:
        print(f"{name:<{width}}  {function:<17} {wanted:>8} {got:>8} {elapsed:>7.0f}")
    print("\nsteps: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in timings))
    print(f"sam-local: {len(rows) - failed} of {len(rows)} events gave their documented answer")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
