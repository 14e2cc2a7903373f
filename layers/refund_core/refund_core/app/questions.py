"""Reviewers ask, customers answer: a reviewer's question to the customer of a pending request (emailed in the
customer's language, with a link to the request's page), and the customer's answer on that page or by
replying to any of the request's emails. The answer lands in the history and marks the request in the queue
("customer answered") until a reviewer asks again or decides. The review deadline keeps running throughout:
the policy's working days do not pause while the service waits."""

from __future__ import annotations

from datetime import datetime

from refund_core.adapters import questions, repository
from refund_core.adapters.records import RequestRecord
from refund_core.errors import NotFound
from refund_core.http.identity import Caller
from refund_core.observability import count, count_by
from refund_core.policy.models import HistoryEntry, QuestionToCustomer

QUESTION_ASKED = "question asked"
CUSTOMER_ANSWERED = "customer answered"
# An answer by letter is the customer's own lines of the reply; longer than this, the rest is left out (said so).
MAX_WRITTEN_ANSWER_CHARACTERS = 4000


def _as_written(request: RequestRecord, history: list[HistoryEntry], **changes: object) -> RequestRecord:
    """The request as the write left it: its next version, the history entries added."""
    return request.model_copy(
        update={**changes, "version": request.version + 1, "history": (*request.history, *history)}
    )


def ask_customer(caller: Caller, request: RequestRecord, question: str, at: datetime) -> RequestRecord:
    """The reviewer's question open on the pending `request` (in place of one still unanswered), and emailed."""
    asked = QuestionToCustomer(question=question, asked_by=caller.username, asked_at=at)
    history = [HistoryEntry(at=at, event=QUESTION_ASKED, by=caller.username, detail=question)]
    questions.record_question(request, asked, history)
    count("QuestionsAsked")
    return _as_written(request, history, question=asked, customer_answered_at=None)


def answer_question(caller: Caller, request_id: str, answer: str, at: datetime) -> RequestRecord:
    """The customer's answer, on the request's page, to the question open on their request."""
    request = repository.get_request(request_id)
    if request is None or request.username != caller.username:
        raise NotFound(f"refund request {request_id} not found")
    history = [HistoryEntry(at=at, event=CUSTOMER_ANSWERED, by=caller.username, detail=answer)]
    questions.record_answer(request, at, history)
    count_by("CustomerAnswers", "page")
    answered = request.question.model_copy(update={"answered_at": at}) if request.question else None
    return _as_written(request, history, question=answered, customer_answered_at=at)


def answer_by_letter(request: RequestRecord, text: str, letter_id: str, at: datetime) -> None:
    """A customer's reply to one of `request`'s emails (the letters path has checked who sent it): their answer,
    kept once per letter whatever the request's state."""
    if len(text) > MAX_WRITTEN_ANSWER_CHARACTERS:
        text = f"{text[:MAX_WRITTEN_ANSWER_CHARACTERS]} [...]"
    entry = HistoryEntry(at=at, event=CUSTOMER_ANSWERED, by=request.username, detail=text)
    questions.record_written_answer(request, at, entry, letter_id)
    count_by("CustomerAnswers", "letter")
