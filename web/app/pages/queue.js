// The reviewers' queue: the open requests counted (overdue, nobody reviewing, the reviewer's own, answered by
// their customer); requests by status, oldest deadline first, narrowed by customer, order and the days they were
// received, overdue ones and those their customer answered marked,
// each with who is reviewing it; the reviewer's own alone on "Mine"; paged by "More", the requests shown sorted
// as the reviewer chooses; and a request opened by its reference.
import { call } from "../api.js";
import { h, replace } from "../dom.js";
import { shortDay, t, wordsFor } from "../i18n.js";
import {
  columnNames, dataTable, field, loadInto, missingFields, onePress, statusWords, submitting, tableRow,
} from "../ui.js";

const STATUSES = ["PENDING", "APPROVED", "REFUSED", "CANCELLED"];
const COLUMNS = ["queue.request", "queue.customer", "queue.order", "queue.outcome", "queue.heldBy", "queue.received",
  "queue.deadline", "queue.daysLeft"];
// The API's order (oldest deadline first) and two by the day received; each sorts the requests loaded so far.
const SORTS = {
  deadline: null,
  newest: (a, b) => b.receivedAt.localeCompare(a.receivedAt) || a.requestId.localeCompare(b.requestId),
  oldest: (a, b) => a.receivedAt.localeCompare(b.receivedAt) || a.requestId.localeCompare(b.requestId),
};

function row(names, request) {
  const left = request.overdue
    ? h("span", { class: "overdue" }, t("queue.overdue"))
    : request.workingDaysLeft ?? t("none");
  // The customer answered a question since it was asked: the reviewer's reminder to read it.
  const answered = request.status === "PENDING" && request.customerAnsweredAt
    ? [" ", h("span", { class: "answered" }, t("queue.answered"))] : null;
  return tableRow(names, [
    [h("a", { href: `#/requests/${encodeURIComponent(request.requestId)}` }, request.requestId), answered],
    request.username, request.orderId, wordsFor("outcome", request.assessment.outcome), request.heldBy ?? t("none"),
    shortDay(request.receivedAt), shortDay(request.deadline), left,
  ]);
}

// The open requests at a glance.
function countsList(counts) {
  return h("ul", { class: "figures", "aria-label": t("queue.counts") }, [
    ["queue.countPending", counts.pending], ["queue.countOverdue", counts.overdue],
    ["queue.countUnheld", counts.unheld], ["queue.countMine", counts.heldByYou],
    ["queue.countAnswered", counts.customerAnswered],
  ].map(([key, count]) => h("li", {}, h("span", {}, t(key)), h("br"), h("strong", {}, String(count)))));
}

// A request opened by its reference, as the customer quotes it from an email.
function findById() {
  const reference = field("queue.reference", h("input", { type: "text", name: "requestId", autocomplete: "off" }));
  const button = h("button", { type: "submit", class: "secondary" }, t("queue.open"));
  const alert = h("div", { class: "notice error", role: "alert", hidden: true });
  const form = h("form", { class: "filters", novalidate: true }, reference, h("div", {}, button), alert);
  submitting(form, button, alert, { requestId: reference }, async () => {
    const id = form.elements.requestId.value.trim();
    if (!id) throw missingFields(["requestId"]);
    window.location.hash = `#/requests/${encodeURIComponent(id)}`;
  });
  return form;
}

export function queuePage(who) {
  const status = h("select", { name: "status" }, STATUSES.map((value) => h("option", { value }, statusWords(value))));
  const fields = {
    status: field("queue.status", status),
    username: field("queue.filterCustomer", h("input", { type: "text", name: "username", autocomplete: "off" })),
    orderId: field("queue.order", h("input", { type: "text", name: "orderId", autocomplete: "off" })),
    receivedFrom: field("queue.receivedFrom", h("input", { type: "date", name: "receivedFrom" })),
    receivedTo: field("queue.receivedTo", h("input", { type: "date", name: "receivedTo" })),
  };
  const overdue = h("input", { type: "checkbox", id: "queue-overdue", name: "overdue" });
  const mine = h("input", { type: "checkbox", id: "queue-mine", name: "mine" });
  const sort = h("select", { name: "sort" }, Object.keys(SORTS).map((value) => h("option", { value }, t(`queue.sort.${value}`))));
  const search = h("button", { type: "submit" }, t("queue.search"));
  const alert = h("div", { class: "notice error", role: "alert", hidden: true });
  const form = h("form", { class: "filters", novalidate: true }, Object.values(fields),
    h("label", { class: "inline", for: overdue.id }, overdue, t("queue.overdueOnly")),
    h("label", { class: "inline", for: mine.id }, mine, t("queue.mine")),
    h("div", {}, search), alert);
  const counts = h("div");
  const rows = h("tbody");
  const more = h("div", { class: "actions" });
  const moreAlert = h("div", { class: "notice error", role: "alert", hidden: true });
  const shown = h("p", { role: "status" });
  const names = columnNames(COLUMNS);
  const results = h("div", { hidden: true }, shown, field("queue.sort", sort), dataTable(t("queue.caption"), names, rows),
    more, moreAlert);
  let items = [];

  const render = () => {
    const order = SORTS[sort.value];
    rows.replaceChildren(...(order ? items.toSorted(order) : items).map((request) => row(names, request)));
    shown.textContent = t("queue.count", { count: items.length });
  };
  const showPage = (page, append) => {
    items = append ? [...items, ...page.items] : page.items;
    render();
    results.hidden = false;
    const button = page.nextToken ? h("button", { type: "button", class: "secondary" }, t("queue.more")) : null;
    if (button) onePress(button, moreAlert, async () => showPage(await fetchPage(page.nextToken), true));
    replace(more, button);
  };
  const fetchPage = (nextToken) => {
    const value = (name) => form.elements[name].value.trim() || null;
    return call("GET", "/refund-requests", { query: {
      status: status.value, overdue: overdue.checked ? "true" : null, heldBy: mine.checked ? who.username : null,
      username: value("username"), orderId: value("orderId"), receivedFrom: value("receivedFrom"),
      receivedTo: value("receivedTo"), nextToken,
    } });
  };
  // One search at a time; a filter changed while one runs searches again once it is done (else the change
  // would be lost to the search still running).
  let again = false;
  submitting(form, search, alert, fields, async () => {
    again = false;
    loadInto(counts, () => call("GET", "/queue/counts"), countsList);
    try {
      showPage(await fetchPage(), false);
    } finally {
      // After submitting() has enabled the button again.
      if (again) setTimeout(() => form.requestSubmit(), 0);
    }
  });
  for (const control of [status, overdue, mine]) {
    control.addEventListener("change", () => {
      if (search.disabled) again = true;
      else form.requestSubmit();
    });
  }
  sort.addEventListener("change", render);
  queueMicrotask(() => form.requestSubmit());
  return h("section", {}, h("h1", {}, t("queue.heading")), counts, form, results, findById());
}
