// One refund request: its status and decision date, its policy checks, its history; for its customer the
// reviewer's question to answer and the cancel button, for staff the facts, the decision forms and the question
// to ask.
import { ApiError, call, newIdempotencyKey } from "../api.js";
import { h, replace, uniqueId } from "../dom.js";
import { day, englishPrevails, known, money, moment, reasonText, t, wordsFor } from "../i18n.js";
import { field, fileSize, loadInto, missingFields, onePress, statusWords, submitting } from "../ui.js";

function statusBlock(request, staff) {
  const lines = [h("p", {}, h("strong", {}, statusWords(request.status)))];
  if (request.status === "PENDING") {
    // Once late, the date the delay email promised, not a deadline that has passed.
    const late = request.overdue && request.decisionPromisedBy;
    lines.push(h("p", {}, late
      ? t("request.late", { deadline: day(request.deadline), date: day(request.decisionPromisedBy) })
      : t("request.decisionBy", { date: day(request.deadline) })));
    if (staff && request.overdue) lines.push(h("p", { class: "overdue" }, t("queue.overdue")));
  }
  const decision = request.decision;
  if (decision) {
    const key = request.status === "APPROVED" ? `request.approved.${decision.refundType}` : "request.refused";
    lines.push(h("p", {}, t(key, { amount: money(decision.amount), date: day(decision.decidedAt) })));
    // The failed rules the decision gives, in the page's language (a decision recorded before it had its
    // grounds: its English reasons, of which the reviewer's note is shown once, as the note).
    const reasons = decision.grounds?.length ? decision.grounds.map(reasonText)
      : decision.reasons.filter((reason) => reason !== decision.note);
    // (That a translation's English prevails is said once, under the policy checks that follow.)
    if (request.status === "REFUSED" && reasons.length) lines.push(h("ul", {}, reasons.map((reason) => h("li", {}, reason))));
    if (decision.note) lines.push(h("p", {}, t("request.note", { note: decision.note })));
    if (staff) lines.push(h("p", {}, t("request.decidedBy", { who: wordsFor("actor", decision.decidedBy) })));
  }
  if (request.status === "CANCELLED") {
    const cancelled = request.history.find((entry) => entry.event === "cancelled");
    if (cancelled) lines.push(h("p", {}, t("request.cancelledOn", { date: day(cancelled.at) })));
  }
  return h("div", { role: "status", class: "notice", tabindex: -1, id: "request-status" }, lines);
}

// Where the money is (PAYOUTS.md "shown to the customer"), in words; staff also see who pays it.
const PAYOUT_PATHS = new Set(["payout.path.card", "payout.path.paypal", "payout.path.crypto"]);

function payoutBlock(request, staff) {
  const payout = request.payout;
  if (!payout) return null;
  const channel = `payout.path.${request.paymentChannel}`;
  const when = payout.state === "PAID" ? payout.paidAt : payout.sentAt;
  const values = {
    amount: money(payout.amount),
    reference: payout.reference || "",
    // The processor's codes in the catalogue's words; billing's own words as they came.
    reason: wordsFor("payout.reason", payout.failureReason || "unknown"),
    path: t(PAYOUT_PATHS.has(channel) ? channel : "payout.path.default"),
    date: when ? day(when) : "",
  };
  const lines = [h("p", {}, t(`payout.${payout.state}`, values))];
  if (staff) {
    lines.push(h("p", {}, t("payout.staff", { route: wordsFor("payout.route", payout.route),
      payment: payout.paymentReference || t("none"), sending: payout.sending })));
  }
  const heading = h("h2", { id: uniqueId("payout") }, t("payout.heading"));
  return h("section", { "aria-labelledby": heading.id }, heading, h("div", { role: "status" }, lines));
}

// POLICY-RULES.md: a failure of these only takes the claim from a full refund to a partial one, never refuses it.
const PARTIAL_PATH = new Set(["WITHIN_30_DAYS", "TRAFFIC_UNDER_LIMIT", "NEW_ORDER"]);

function verdict(rule) {
  const result = rule.result === "fail" && PARTIAL_PATH.has(rule.id) ? "partial" : rule.result;
  return h("span", { class: `result ${result}` }, t(`rule.${result}`));
}

// `open`: the claim is still to be decided (pending, or not yet sent), so a suggested amount means something.
// `staff`: they see which version of the policy judged it; a customer, when it was checked.
export function policyChecks(assessment, open = true, staff = false) {
  const heading = h("h2", { id: uniqueId("checks") }, t("request.checks"));
  const list = h("ul", { class: "checks", "aria-label": t("request.checks") },
    assessment.rules.map((rule) => h("li", {}, verdict(rule), reasonText(rule))));
  const partial = open && assessment.outcome === "PARTIAL_REFUND";
  const summary = partial && assessment.suggestedAmount
    ? h("p", {}, t("request.suggested", { amount: money(assessment.suggestedAmount) })) : null;
  const explained = partial ? h("p", {}, t("request.partialExplained")) : null;
  const prevails = englishPrevails() ? h("p", { class: "muted" }, englishPrevails()) : null;
  const checked = staff ? t("request.policyVersion", { version: assessment.policyVersion, date: moment(assessment.assessedAt) })
    : t("request.checkedOn", { date: day(assessment.assessedAt) });
  return [heading, h("p", {}, t(`outcome.${assessment.outcome}`)), summary, explained, list, prevails,
    h("p", { class: "muted" }, checked)];
}

// Each entry's detail in words: an outcome, a status, an email's kind, or the reviewer's internal note as written.
const DETAIL_WORDS = { assessed: "outcome", decided: "status", "email sent": "email", "email not needed": "email" };
// What a customer is not shown of their history: the service's own hand-offs and the staff's emails.
const NOT_THE_CUSTOMERS = new Set(["RefundDecided published", "email sent:reminder", "email sent:escalation",
  "email not needed"]);

function history(request, staff) {
  const entries = staff ? request.history : request.history.filter((entry) =>
    !NOT_THE_CUSTOMERS.has(entry.event) && !NOT_THE_CUSTOMERS.has(`${entry.event}:${entry.detail}`));
  return [h("h2", {}, t("request.history")), h("ol", { class: "history" }, entries.map((entry) => {
    const prefix = DETAIL_WORDS[entry.event];
    const detail = prefix ? wordsFor(prefix, entry.detail) : entry.detail ?? "";
    // A customer reads their request's story in their own terms (yourHistory.*); staff the service's.
    const words = !staff && known(`yourHistory.${entry.event}`) ? t(`yourHistory.${entry.event}`)
      : wordsFor("history", entry.event);
    // "We received your request" needs no "by you" after it: the customer's own entries name no one.
    const by = !staff && entry.by === "you" ? null
      : [" ", h("span", { class: "muted" }, t("history.by", { who: wordsFor("actor", entry.by) }))];
    return h("li", {}, h("time", { datetime: entry.at }, moment(entry.at)), " ", words.replace("{detail}", () => detail), by);
  }))];
}

// A code of the records in the catalogue's words; unknown to the records stays unknown.
function inWords(prefix, code) {
  return code == null ? null : wordsFor(prefix, code);
}

function definitionList(pairs) {
  return h("dl", {}, pairs.flatMap(([key, value]) => [h("dt", {}, t(key)), h("dd", {}, value ?? t("facts.unknown"))]));
}

function factsRegion(facts) {
  const heading = h("h2", { id: uniqueId("facts") }, t("facts.heading"));
  const parts = [heading];
  if (!facts) parts.push(h("p", {}, t("facts.none")));
  else {
    const { order, usage, customer, supportTicket } = facts;
    parts.push(definitionList([
      ["facts.order", order ? `${order.orderId} · ${money(order.amountPaid)} · ${moment(order.orderedAt)}` : null],
      ["facts.channel", inWords("channel", order?.paymentChannel)], ["facts.kind", inWords("kind", order?.kind)],
      ["facts.period", order?.servicePeriodDays != null ? t("facts.days", { days: order.servicePeriodDays }) : null],
      ["facts.payment", inWords("paymentState", order?.paymentState)],
      ["facts.traffic", usage?.trafficBytes != null ? t("facts.gigabytes", { value: (usage.trafficBytes / 1e9).toFixed(2) }) : null],
      ["facts.connections", usage?.connections != null ? String(usage.connections) : null],
      ["facts.usageAsOf", usage?.asOf ? moment(usage.asOf) : null],
      ["facts.blocks", customer ? String(customer.blocks.length) : null],
      ["facts.violations", customer ? String(customer.violations.length) : null],
      ["facts.refundsElsewhere", customer ? String(customer.refundsElsewhere.length) : null],
      ["facts.ticket", supportTicket ? [supportTicket.ticketId, wordsFor("ticketCategory", supportTicket.category),
        supportTicket.officialResponse ? wordsFor("ticketResponse", supportTicket.officialResponse) : t("none")].join(" · ") : null],
    ]));
  }
  return h("section", { class: "facts", role: "region", "aria-labelledby": heading.id }, parts);
}

function cancelControls(request, reload) {
  const idempotencyKey = newIdempotencyKey();
  const alert = h("div", { class: "notice error", role: "alert", hidden: true });
  const yes = h("button", { type: "button" }, t("cancel.yes"));
  const keep = h("button", { type: "button", class: "secondary" }, t("cancel.keep"));
  const title = h("h2", { id: uniqueId("cancel") }, t("cancel.title"));
  const dialog = h("dialog", { "aria-labelledby": title.id }, title, h("p", {}, t("cancel.question")), alert,
    h("div", { class: "actions" }, yes, keep));
  const open = h("button", { type: "button", class: "secondary", onclick: () => { alert.hidden = true; dialog.showModal(); keep.focus(); } },
    t("request.cancel"));
  keep.addEventListener("click", () => dialog.close());
  onePress(yes, alert, async () => {
    await call("POST", `/refund-requests/${encodeURIComponent(request.requestId)}/cancel`, { idempotencyKey });
    dialog.close();
    reload();
  });
  return [h("div", { class: "actions" }, open), dialog];
}

// A reviewer's question waiting for the customer: what was asked, that the deadline still holds, and the answer.
function answerForm(request, reload) {
  const heading = h("h2", { id: uniqueId("waiting") }, t("question.waitingForYou"));
  const answer = field("question.yourAnswer", h("textarea", { name: "answer", required: true }));
  const button = h("button", { type: "submit" }, t("question.send"));
  const alert = h("div", { class: "notice error", role: "alert", hidden: true });
  const form = h("form", { novalidate: true }, answer, alert, h("div", { class: "actions" }, button));
  submitting(form, button, alert, { answer }, async () => {
    const value = form.elements.answer.value;
    if (!value.trim()) throw missingFields(["answer"]);
    try {
      await call("POST", `/refund-requests/${encodeURIComponent(request.requestId)}/answer`, { body: { answer: value } });
    } catch (error) {
      if (error.code !== "no_question") throw error; // answered already (by email, say): the request says so
    }
    reload();
  });
  return h("section", { "aria-labelledby": heading.id, class: "notice question" }, heading,
    h("p", {}, t("question.asked", { when: moment(request.question.askedAt) })),
    h("blockquote", {}, request.question.question),
    h("p", {}, t("question.deadlineRuns", { date: day(request.deadline) })),
    h("p", { class: "muted" }, t("question.byEmail")), form);
}

// Staff: the question waiting for the customer, or the customer's answer since it was asked.
function questionStatus(request) {
  const question = request.question;
  if (!question) return null;
  if (!question.answeredAt) {
    return h("p", { class: "notice" }, t("question.waitingForCustomer",
      { who: question.askedBy, when: moment(question.askedAt), question: question.question }));
  }
  if (!request.customerAnsweredAt) return null;
  return h("p", { class: "notice answered" }, t("question.customerAnswered", { when: moment(request.customerAnsweredAt) }));
}

function askForm(request, reload) {
  const question = h("textarea", { name: "question", required: true });
  const fields = { question: field("question.toCustomer", question) };
  const button = h("button", { type: "submit" }, t("question.ask"));
  const alert = h("div", { class: "notice error", role: "alert", hidden: true });
  const form = h("form", { novalidate: true, class: "decision" }, h("h2", {}, t("question.askHeading")),
    h("p", { class: "muted" }, t("question.askExplained")), fields.question, alert, h("div", { class: "actions" }, button));
  submitting(form, button, alert, fields, async () => {
    if (!question.value.trim()) throw missingFields(["question"]);
    await call("POST", `/refund-requests/${encodeURIComponent(request.requestId)}/evaluate`,
      { body: { action: "askCustomer", question: question.value } });
    reload();
  });
  return form;
}

// The files attached (evidence): each downloadable; while the request is pending, its customer and its reviewers
// attach more. A file goes straight to the evidence bucket by the form the API signs, then the API checks its bytes.
const EVIDENCE_TYPES = ["application/pdf", "image/png", "image/jpeg", "text/plain"];
const EVIDENCE_MAX_BYTES = 10 * 1024 * 1024;
const EVIDENCE_MAX_FILES = 5;

function fileError(code, params = {}) {
  return new ApiError(400, "", [{ field: "file", code, message: "", params }]);
}

async function uploadEvidence(request, file) {
  if (!EVIDENCE_TYPES.includes(file.type)) throw fileError("type");
  if (file.size > EVIDENCE_MAX_BYTES) throw fileError("too_large");
  if (file.size === 0) throw fileError("empty");
  const base = `/refund-requests/${encodeURIComponent(request.requestId)}/evidence`;
  let slot;
  try {
    slot = await call("POST", base, { body: { fileName: file.name, contentType: file.type, size: file.size } });
  } catch (error) {
    // What the API says of the file's name, type or size, said beside the file.
    if (error instanceof ApiError && error.status === 400) {
      throw new ApiError(400, error.message, error.errors.map((problem) => ({ ...problem, field: "file" })));
    }
    throw error;
  }
  const form = new FormData();
  for (const [name, value] of Object.entries(slot.fields)) form.append(name, value);
  form.append("file", file);
  let sent;
  try {
    sent = await fetch(slot.url, { method: "POST", body: form });
  } catch {
    throw fileError("upload_failed");
  }
  if (!sent.ok) throw fileError("upload_failed");
  await call("POST", `${base}/${encodeURIComponent(slot.evidenceId)}/check`);
}

function evidenceSection(request, open, reload) {
  const heading = h("h2", { id: uniqueId("evidence") }, t("evidence.heading"));
  const alert = h("div", { class: "notice error", role: "alert", hidden: true });
  const items = request.evidence.map((item) => {
    const button = h("button", { type: "button", class: "secondary", "aria-label": t("evidence.downloadNamed", { name: item.fileName }) },
      t("evidence.download"));
    onePress(button, alert, async () => {
      const link = await call("GET",
        `/refund-requests/${encodeURIComponent(request.requestId)}/evidence/${encodeURIComponent(item.evidenceId)}`);
      window.location.assign(link.url);
    });
    return h("li", {}, h("strong", { class: "file-name" }, item.fileName), " ",
      h("span", { class: "muted" }, t("evidence.about", { size: fileSize(item.size ?? 0),
        who: wordsFor("actor", item.addedBy), when: moment(item.addedAt) })), " ", button);
  });
  const parts = [heading, items.length ? h("ul", { class: "evidence" }, items) : h("p", {}, t("evidence.none")), alert];
  if (open && request.evidence.length < EVIDENCE_MAX_FILES) {
    const input = h("input", { type: "file", name: "file", accept: ".pdf,.png,.jpg,.jpeg,.txt," + EVIDENCE_TYPES.join(",") });
    const fields = { file: field("evidence.file", input) };
    const button = h("button", { type: "submit", class: "secondary" }, t("evidence.attach"));
    const formAlert = h("div", { class: "notice error", role: "alert", hidden: true });
    const form = h("form", { novalidate: true, class: "attach" }, fields.file,
      h("p", { class: "muted" }, t("evidence.rules", { max: EVIDENCE_MAX_FILES })), formAlert,
      h("div", { class: "actions" }, button));
    submitting(form, button, formAlert, fields, async () => {
      const [file] = input.files;
      if (!file) throw missingFields(["file"]);
      await uploadEvidence(request, file);
      reload();
    });
    parts.push(form);
  }
  return h("section", { "aria-labelledby": heading.id }, parts);
}

// Who is reviewing the request, and the one action on it that fits: take it, release it, or take it over.
function holding(request, who, reload) {
  const alert = h("div", { class: "notice error", role: "alert", hidden: true });
  const holder = request.heldBy;
  const [words, action, label] = !holder ? [t("hold.nobody"), { action: "take" }, "hold.take"]
    : holder === who.username ? [t("hold.you", { since: moment(request.heldSince) }), { action: "release" }, "hold.release"]
      : [t("hold.other", { who: holder, since: moment(request.heldSince) }), { action: "take", takeOver: true }, "hold.takeOver"];
  const button = h("button", { type: "button", class: "secondary" }, t(label));
  onePress(button, alert, async () => {
    await call("POST", `/refund-requests/${encodeURIComponent(request.requestId)}/evaluate`,
      { body: action, idempotencyKey: newIdempotencyKey() });
    reload();
  });
  return h("div", { class: "holding" }, h("p", {}, words), h("div", { class: "actions" }, button), alert);
}

// Four eyes: an approval above the policy's amount waits for another reviewer, who alone may confirm it.
function secondApproval(request, who, reload) {
  const proposal = request.awaitingSecondApproval;
  if (!proposal) return null;
  const heading = h("h2", { id: uniqueId("second") }, t("second.heading"));
  const words = h("p", {}, t("second.waiting",
    { who: proposal.proposedBy, amount: money(proposal.amount), when: moment(proposal.proposedAt) }));
  if (proposal.proposedBy === who.username) {
    return h("section", { "aria-labelledby": heading.id, class: "notice" }, heading, words, h("p", {}, t("second.yours")));
  }
  const alert = h("div", { class: "notice error", role: "alert", hidden: true });
  const button = h("button", { type: "button" }, t("second.confirm"));
  onePress(button, alert, async () => {
    await call("POST", `/refund-requests/${encodeURIComponent(request.requestId)}/evaluate`,
      { body: { action: "confirmApproval" }, idempotencyKey: newIdempotencyKey() });
    reload();
  });
  return h("section", { "aria-labelledby": heading.id, class: "notice" }, heading, words,
    h("div", { class: "actions" }, button), alert);
}

// The supervisors' canned replies, each in either language: picking one puts its text in the note, to edit. The
// decision does not wait for them: if they cannot be read, the list stays empty.
function cannedReplies(note) {
  const select = h("select", { name: "cannedReply" }, h("option", { value: "" }, t("none")));
  const texts = new Map();
  call("GET", "/canned-replies").then((library) => {
    for (const reply of library.items) {
      for (const [language, text] of [["en", reply.english], ["zh-HK", reply.chinese]]) {
        const value = `${reply.replyId}:${language}`;
        texts.set(value, text);
        select.append(h("option", { value }, t("decide.cannedOption", { title: reply.title, language: t(`replies.in.${language}`) })));
      }
    }
  }).catch(() => {});
  select.addEventListener("change", () => {
    if (texts.has(select.value)) note.value = texts.get(select.value);
  });
  return field("decide.cannedReply", select);
}

function decisionForm(request, action, reload, who) {
  const idempotencyKey = newIdempotencyKey();
  const fields = {};
  if (action === "approve") {
    const suggested = request.assessment?.suggestedAmount?.amount ?? request.amountPaid?.amount ?? "";
    fields.amount = field("decide.amount", h("input", { type: "text", name: "amount", inputmode: "decimal", value: suggested }));
  }
  const note = h("textarea", { name: "note", required: action === "refuse" });
  const canned = cannedReplies(note);
  fields.note = field("decide.note", note);
  fields.internalNote = field("decide.internalNote", h("textarea", { name: "internalNote" }));
  // Another reviewer holds it: the decision says so on its button, which is the confirmation asked for.
  const heldByAnother = request.heldBy && request.heldBy !== who.username;
  const button = h("button", { type: "submit" },
    heldByAnother ? t("decide.confirmInstead", { who: request.heldBy }) : t("decide.confirm"));
  const warning = heldByAnother ? h("p", { class: "notice" }, t("decide.heldByAnother", { who: request.heldBy })) : null;
  const alert = h("div", { class: "notice error", role: "alert", hidden: true });
  const form = h("form", { novalidate: true, class: "decision" },
    h("h2", {}, t(`decide.${action}.heading`)), warning, fields.amount, canned, fields.note, fields.internalNote, alert,
    h("div", { class: "actions" }, button));
  submitting(form, button, alert, fields, async () => {
    const body = { action };
    for (const name of Object.keys(fields)) {
      const value = form.elements[name].value;
      if (value.trim()) body[name] = name === "amount" ? value.trim() : value;
    }
    try {
      await call("POST", `/refund-requests/${encodeURIComponent(request.requestId)}/evaluate`, { body, idempotencyKey });
    } catch (error) {
      // Decided meanwhile (by this very decision, if an earlier try timed out after it was made, or by
      // another reviewer): the request as it stands says which.
      if (error.status === 409) {
        reload();
        return;
      }
      throw error;
    }
    reload();
  });
  return form;
}

function staffControls(request, reload, who) {
  const area = h("div");
  const alert = h("div", { class: "notice error", role: "alert", hidden: true });
  const reassess = h("button", { type: "button", class: "secondary" }, t("decide.reassess"));
  // By default the rules of the version in force when the request was received; ticked, those in force now.
  const current = h("input", { type: "checkbox", id: `current-policy-${request.requestId}` });
  onePress(reassess, alert, async () => {
    const body = { action: "assess", policy: current.checked ? "current" : "receipt" };
    await call("POST", `/refund-requests/${encodeURIComponent(request.requestId)}/evaluate`,
      { body, idempotencyKey: newIdempotencyKey() });
    reload();
  });
  const open = (action) => () => {
    replace(area, decisionForm(request, action, reload, who));
    area.querySelector("input, textarea").focus();
  };
  const ask = () => {
    replace(area, askForm(request, reload));
    area.querySelector("textarea").focus();
  };
  return [secondApproval(request, who, reload), questionStatus(request), holding(request, who, reload),
    h("div", { class: "actions" }, reassess,
      h("label", { class: "inline", for: current.id }, current, t("request.currentPolicy")),
      h("button", { type: "button", onclick: open("approve") }, t("decide.approve")),
      h("button", { type: "button", onclick: open("refuse") }, t("decide.refuse")),
      h("button", { type: "button", class: "secondary", onclick: ask }, t("question.askButton"))), alert, area];
}

export function requestPage(who, requestId) {
  const container = h("div");
  // After an action, focus moves to the request's status, which says what the action did.
  const reload = () => loadInto(container, load, show).then(() => container.querySelector("#request-status")?.focus());
  const load = () => call("GET", `/refund-requests/${encodeURIComponent(requestId)}`);
  const show = (request) => {
    const own = request.username === who.username;
    // Staff see the whole request (finance too, whose payouts these are); reviewers alone decide.
    const staff = (who.reviewer || who.finance) && !own;
    const reviewer = who.reviewer && !own;
    return [
      h("h1", {}, t("request.heading", { id: request.requestId })),
      // What the request is about, in words, under the heading its id names.
      h("p", {}, request.paymentChannel
        ? t("request.about", { order: request.orderId, paid: money(request.amountPaid), channel: wordsFor("channel", request.paymentChannel) })
        : t("request.aboutNoChannel", { order: request.orderId, paid: money(request.amountPaid) })),
      statusBlock(request, staff),
      payoutBlock(request, staff),
      definitionList([["request.order", request.orderId], ["request.received", moment(request.receivedAt)],
        ["request.reason", request.reason], ["request.ticket", request.supportTicketId],
        staff ? ["request.customer", request.username] : null].filter(Boolean)),
      own && request.status === "PENDING" && request.question && !request.question.answeredAt
        ? answerForm(request, reload) : null,
      own && request.status === "PENDING" ? cancelControls(request, reload) : null,
      // The facts and the checks come before the decision: a reviewer reads them, then decides.
      staff ? factsRegion(request.facts) : null,
      policyChecks(request.assessment, request.status === "PENDING", staff),
      evidenceSection(request, request.status === "PENDING" && (own || reviewer), reload),
      reviewer && request.status === "PENDING" ? staffControls(request, reload, who) : null,
      history(request, staff),
    ];
  };
  loadInto(container, load, show);
  return h("section", {}, container);
}
