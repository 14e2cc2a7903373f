"""moto's whole state, kept and put back: the tests provision template.yaml once per process and give each test
a copy of what provisioning made (about 50 API calls, 60 ms a test), not a new stack built call by call.

moto keeps every service's state in backends (`BackendDict` → account → region → backend), each a plain object
graph, and lists the services in use in `BackendDict._instances`, which its reset empties. A snapshot is a deep
copy of every backend in use and of each service's own attributes (S3's map of bucket names to accounts); a
restore, after the mock's reset, installs a fresh deep copy of it, so that no test sees another's writes. SQS
queues hold a lock (`Queue._messages_lock`), which cannot be copied: each copy gets a new one. Any other
object that cannot be copied fails the snapshot at once (a `TypeError`), not a test later."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from threading import Condition
from typing import Any

from moto.core.base_backend import BackendDict
from moto.sqs.models import SQSBackend

Place = tuple[BackendDict[Any], str, str]


@dataclass(frozen=True)
class Snapshot:
    """moto's backends at one moment, by service, account and region, and each service's own attributes."""

    backends: dict[Place, Any]
    services: dict[BackendDict[Any], dict[str, Any]]


def take() -> Snapshot:
    """A copy of moto's state now; nothing that happens later changes it."""
    backends = {
        (service, account, region): backend
        for service in BackendDict._instances  # type: ignore[misc]
        for account, regional in service.items()
        for region, backend in regional.items()
    }
    services = {service: dict(vars(service)) for service in BackendDict._instances}  # type: ignore[misc]
    return _copied(Snapshot(backends, services))


def restore(snapshot: Snapshot) -> None:
    """moto's state as in `snapshot` (after the mock's reset: the backends made since are dropped by it)."""
    fresh = _copied(snapshot)
    for service, attributes in fresh.services.items():
        vars(service).update(attributes)
    for (service, account, region), backend in fresh.backends.items():
        # Indexing the service by account lists it among the services in use, for the next reset.
        service[account][region] = backend


def _copied(snapshot: Snapshot) -> Snapshot:
    locks: dict[int, Any] = {
        id(queue._messages_lock): Condition()
        for backend in snapshot.backends.values()
        if isinstance(backend, SQSBackend)
        for queue in backend.queues.values()
    }
    backends, services = copy.deepcopy((list(snapshot.backends.values()), list(snapshot.services.values())), locks)
    return Snapshot(
        dict(zip(snapshot.backends, backends, strict=True)), dict(zip(snapshot.services, services, strict=True))
    )
