"""Domain errors. Handlers map each class to one HTTP status in one place."""

from __future__ import annotations


class RefundError(Exception):
    """Base of every error a caller can cause; the message is safe to show to that caller."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(RefundError):
    """The input is well-formed JSON but a field's value is not acceptable."""


class NotFound(RefundError):
    """Unknown, or not the caller's: a stranger is never told that it exists."""


class NotAReviewer(RefundError):
    """The route is for reviewers."""


class Conflict(RefundError):
    """The request's state or another open claim forbids the action."""


class BodyTooLarge(RefundError):
    """The request body is over the size the handlers read."""


class PolicyForbids(RefundError):
    """A reviewer's approval that the Refund Policy does not allow."""
