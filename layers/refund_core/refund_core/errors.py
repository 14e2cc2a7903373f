"""Domain errors. Handlers map each class to one HTTP status in one place."""

from __future__ import annotations

type ErrorParam = str | int


class RefundError(Exception):
    """Base of every error a caller can cause; the message is safe to show to that caller. Its `code` and
    `params` say the same for a program, or a page in another language (the class's code, else a finer one)."""

    # When the same call may succeed: sent as Retry-After.
    retry_after_seconds: int | None = None
    code = "invalid"

    def __init__(
        self,
        message: str,
        field: str | None = None,
        *,
        code: str | None = None,
        params: dict[str, ErrorParam] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code or self.code
        self.params = params or {}


class InvalidInput(RefundError):
    """The input is well-formed JSON but a field's value is not acceptable."""


class InvalidSettings(InvalidInput):
    """A draft policy with invalid settings: every one is named, with what is wrong with it."""

    code = "invalid_settings"

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__(f"invalid settings: {', '.join(sorted({name for name, _ in problems}))}")
        self.problems = problems


class NotFound(RefundError):
    """Unknown, or not the caller's: a stranger is never told that it exists."""

    code = "not_found"


class OrderNotFound(NotFound):
    """The order is not on record, or not the caller's (billing may have given it to another customer)."""

    code = "order_not_found"

    def __init__(self, order_id: str) -> None:
        super().__init__(f"order {order_id} not found", field="orderId", params={"order": order_id})


class Forbidden(RefundError):
    """The caller may not do this (403)."""

    code = "forbidden"


class NotAReviewer(Forbidden):
    """The route is for reviewers."""


class NotASupervisor(Forbidden):
    """The route is for supervisors."""


class NotAPolicyOwner(Forbidden):
    """The route is for the refund policy's owners."""


class OwnClaim(Forbidden):
    """A reviewer acting on a request they filed themselves."""


class OwnApproval(Forbidden):
    """A reviewer confirming the approval they made themselves (four eyes need two reviewers)."""

    code = "own_approval"


class Conflict(RefundError):
    """The request's state or another open claim forbids the action."""

    code = "conflict"


class OrderMoved(Conflict):
    """Billing has given the claimed order to another customer since the request was filed: it cannot be approved
    (its payment would be paid back twice) or re-assessed; the customer can cancel it."""

    code = "order_moved"

    def __init__(self, order_id: str, username: str) -> None:
        super().__init__(
            f"order {order_id} is no longer {username}'s in the billing records, so the request cannot be approved; "
            "the customer can cancel it",
            params={"order": order_id},
        )


class StillInProgress(Conflict):
    """The first call with this Idempotency-Key is still being answered: the same call again gets its answer."""

    code = "in_progress"

    retry_after_seconds = 1


class ClaimsKeptChanging(Conflict):
    """The customer's claims changed under every judging of this one: worth sending again as it is."""

    code = "try_again"


class BodyTooLarge(RefundError):
    """The request body is over the size the handlers read."""

    code = "too_large"


class PolicyForbids(RefundError):
    """A reviewer's approval that the Refund Policy does not allow."""

    code = "policy_forbids"


class NotEvidence(RefundError):
    """An uploaded file whose bytes are not of the type it was declared as, or larger than allowed: deleted (422)."""

    code = "not_evidence"


class LimitReached(RefundError):
    """More requests than the policy's filing limits allow, for an order or for a customer in a period (429)."""

    code = "limit_reached"


class ServiceBusy(RefundError):
    """AWS kept throttling through every retry: the caller should try again shortly (503, Retry-After)."""

    code = "busy"

    retry_after_seconds = 2


class RecordEventRefused(RefundError):
    """An event of another system that the service will not apply (RECORDS.md "Strict"): kept whole in the
    records dead-letter queue with this reason and the field it names."""

    code = "refused"
