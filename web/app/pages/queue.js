// The reviewers' queue: requests by status, oldest deadline first, overdue ones marked, each with who is reviewing
// it; the reviewer's own alone on "Mine"; paged by "More".
import { call } from "../api.js";
import { h, replace } from "../dom.js";
import { shortDay, t, wordsFor } from "../i18n.js";
import { Superseded, columnNames, dataTable, loadInto, statusWords, tableRow } from "../ui.js";

const STATUSES = ["PENDING", "APPROVED", "REFUSED", "CANCELLED"];
const COLUMNS = ["queue.request", "queue.customer", "queue.order", "queue.outcome", "queue.heldBy", "queue.received",
  "queue.deadline", "queue.daysLeft"];

function row(names, request) {
  const left = request.overdue
    ? h("span", { class: "overdue" }, t("queue.overdue"))
    : request.workingDaysLeft ?? t("none");
  return tableRow(names, [
    h("a", { href: `#/requests/${encodeURIComponent(request.requestId)}` }, request.requestId),
    request.username, request.orderId, wordsFor("outcome", request.assessment.outcome), request.heldBy ?? t("none"),
    shortDay(request.receivedAt), shortDay(request.deadline), left,
  ]);
}

export function queuePage(who) {
  const status = h("select", { id: "queue-status", name: "status" },
    STATUSES.map((value) => h("option", { value }, statusWords(value))));
  const overdue = h("input", { type: "checkbox", id: "queue-overdue", name: "overdue" });
  const mine = h("input", { type: "checkbox", id: "queue-mine", name: "mine" });
  const rows = h("tbody");
  const more = h("div", { class: "actions" });
  const results = h("div");
  const names = columnNames(COLUMNS);
  const table = dataTable(t("queue.caption"), names, rows);

  const show = (page, append) => {
    if (!append) rows.replaceChildren();
    rows.append(...page.items.map((request) => row(names, request)));
    const count = rows.children.length;
    replace(more, page.nextToken
      ? h("button", { type: "button", class: "secondary", onclick: () => load(page.nextToken) }, t("queue.more")) : null);
    return [h("p", { role: "status" }, t("queue.count", { count })), table, more];
  };
  // Only the latest load is shown: a slow answer for an earlier filter (or page) is dropped.
  let latest = 0;
  const load = (nextToken) => {
    latest += 1;
    const thisLoad = latest;
    const query = { status: status.value, overdue: overdue.checked ? "true" : null,
      heldBy: mine.checked ? who.username : null, nextToken };
    return loadInto(results, async () => {
      const page = await call("GET", "/refund-requests", { query });
      if (thisLoad !== latest) throw new Superseded();
      return page;
    }, (page) => show(page, Boolean(nextToken)));
  };
  status.addEventListener("change", () => load());
  overdue.addEventListener("change", () => load());
  mine.addEventListener("change", () => load());
  load();
  return h("section", {}, h("h1", {}, t("queue.heading")),
    h("div", { class: "filters" },
      h("div", {}, h("label", { for: status.id }, t("queue.status")), status),
      h("label", { class: "inline", for: overdue.id }, overdue, t("queue.overdueOnly")),
      h("label", { class: "inline", for: mine.id }, mine, t("queue.mine"))),
    results);
}
