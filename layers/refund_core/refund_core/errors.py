"""Domain errors. Handlers map each class to one HTTP status in one place."""

from __future__ import annotations


class RefundError(Exception):
    """Base of every error a caller can cause; the message is safe to show to that caller."""

    # When the same call may succeed: sent as Retry-After.
    retry_after_seconds: int | None = None

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(RefundError):
    """The input is well-formed JSON but a field's value is not acceptable."""


class InvalidSettings(InvalidInput):
    """A draft policy with invalid settings: every one is named, with what is wrong with it."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__(f"invalid settings: {', '.join(sorted({name for name, _ in problems}))}")
        self.problems = problems


class NotFound(RefundError):
    """Unknown, or not the caller's: a stranger is never told that it exists."""


class Forbidden(RefundError):
    """The caller may not do this (403)."""


class NotAReviewer(Forbidden):
    """The route is for reviewers."""


class NotASupervisor(Forbidden):
    """The route is for supervisors."""


class NotAPolicyOwner(Forbidden):
    """The route is for the refund policy's owners."""


class OwnClaim(Forbidden):
    """A reviewer acting on a request they filed themselves."""


class Conflict(RefundError):
    """The request's state or another open claim forbids the action."""


class StillInProgress(Conflict):
    """The first call with this Idempotency-Key is still being answered: the same call again gets its answer."""

    retry_after_seconds = 1


class ClaimsKeptChanging(Conflict):
    """The customer's claims changed under every judging of this one: worth sending again as it is."""


class BodyTooLarge(RefundError):
    """The request body is over the size the handlers read."""


class PolicyForbids(RefundError):
    """A reviewer's approval that the Refund Policy does not allow."""


class LimitReached(RefundError):
    """More requests than the policy's filing limits allow, for an order or for a customer in a period (429)."""


class ServiceBusy(RefundError):
    """AWS kept throttling through every retry: the caller should try again shortly (503, Retry-After)."""

    retry_after_seconds = 2


class RecordEventRefused(RefundError):
    """An event of another system that the service will not apply (RECORDS.md "Strict"): kept whole in the
    records dead-letter queue with this reason and the field it names."""
