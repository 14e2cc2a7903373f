// Manage Account → Refunds: the customer's orders, each with its refund status, every request they sent
// (cancelled and decided ones too), and the request form with its check before sending.
import { call, newIdempotencyKey } from "../api.js";
import { h, replace, uniqueId } from "../dom.js";
import { money, refundedElsewhereText, sentenceGap, shortDay, t, wordsFor } from "../i18n.js";
import {
  columnNames, dataTable, field, loadInto, onePress, pressing, saveJson, statusWords, submitting, tableRow,
} from "../ui.js";
import { policyChecks } from "./request.js";

// Every page of a list the API pages (at most 500 items: a customer has a handful).
async function allItems(path) {
  const items = [];
  let nextToken;
  do {
    const page = await call("GET", path, { query: { nextToken } });
    items.push(...page.items);
    nextToken = page.nextToken;
  } while (nextToken && items.length < 500);
  return items;
}

const COLUMNS = ["orders.order", "orders.date", "orders.amount", "orders.refundStatus", "orders.action"];

function orderRow(names, order) {
  const request = order.refundRequest;
  const rowHeader = uniqueId("order");
  const status = request
    ? h("a", { href: `#/requests/${encodeURIComponent(request.requestId)}` }, statusWords(request.status))
    : t("orders.noRequest");
  // An order the company does not refund (the App Store's) says who does, and offers no request.
  const action = request ? "" : order.refundedElsewhere
    ? h("span", { class: "muted" }, refundedElsewhereText(order.paymentChannel, order.refundedElsewhere))
    : h("button", { type: "button", "aria-describedby": rowHeader,
      onclick: () => { window.location.hash = `#/orders/${encodeURIComponent(order.orderId)}/request`; } },
    t("orders.requestRefund"));
  return tableRow(names, [order.orderId, shortDay(order.orderedAt), money(order.amount), status, action],
    { header: { id: rowHeader } });
}

function ordersTable(orders) {
  if (!orders.length) return h("p", { class: "notice" }, t("orders.none"));
  const names = columnNames(COLUMNS);
  return dataTable(t("orders.caption"), names, h("tbody", {}, orders.map((order) => orderRow(names, order))));
}

// "365-day plan, new order": what the customer bought, as far as the order says.
function plan(order) {
  const parts = [];
  if (order?.servicePeriodDays != null) parts.push(t("plan.days", { days: order.servicePeriodDays }));
  if (order?.kind) parts.push(wordsFor("plan.kind", order.kind));
  return parts.length ? parts.join(t("plan.separator")) : t("none");
}

const REQUEST_COLUMNS = ["requests.received", "requests.order", "requests.plan", "requests.paid", "requests.status",
  "requests.refund"];

// The customer's requests, newest first: each one's order, plan, what was paid and what came back.
function requestsTable(requests, orders) {
  if (!requests.length) return h("p", { class: "notice" }, t("requests.none"));
  const orderOf = new Map(orders.map((order) => [order.orderId, order]));
  const names = columnNames(REQUEST_COLUMNS);
  const newestFirst = [...requests].sort((a, b) => b.receivedAt.localeCompare(a.receivedAt));
  return dataTable(t("requests.caption"), names, h("tbody", {}, newestFirst.map((request) => tableRow(names, [
    h("a", { href: `#/requests/${encodeURIComponent(request.requestId)}` }, shortDay(request.receivedAt)),
    request.orderId, plan(orderOf.get(request.orderId)), money(request.amountPaid), statusWords(request.status),
    request.decision?.amount ? money(request.decision.amount) : t("none"),
  ]))));
}

// A copy of everything kept about the customer, as one file (the Personal Data (Privacy) Ordinance's access).
function personalData() {
  const heading = h("h2", { id: uniqueId("data") }, t("data.heading"));
  const button = h("button", { type: "button", class: "secondary" }, t("data.download"));
  const alert = h("div", { class: "notice error", role: "alert", hidden: true });
  const saved = h("p", { role: "status" });
  onePress(button, alert, async () => {
    saved.textContent = "";
    const data = await call("GET", "/personal-data");
    const file = `personal-data-${data.username}.json`;
    saveJson(data, file);
    saved.textContent = t("data.saved", { file });
  });
  return h("section", { "aria-labelledby": heading.id, class: "personal-data" }, heading, h("p", {}, t("data.intro")),
    button, alert, saved);
}

export function accountPage() {
  const container = h("div");
  // One load for both tables: if the API does not answer, one message and one retry say so.
  loadInto(container, () => Promise.all([allItems("/orders"), allItems("/refund-requests")]),
    ([orders, requests]) => [ordersTable(orders), h("div", { class: "requests" }, requestsTable(requests, orders))]);
  return h("section", {}, h("h1", {}, t("account.heading")), h("p", {}, t("account.intro")), container,
    personalData());
}

// What the policy would say of the claim sent now, and what sending it uses up (the once-only guarantee).
function claimCheck(check) {
  const heading = h("h2", { id: uniqueId("check") }, t("check.heading"));
  const warnings = [h("p", {}, t(check.decidedAtOnce ? "check.atOnce" : "check.review"))];
  if (check.usesTheOneClaim) {
    warnings.push(h("p", {}, h("strong", {}, t("check.oneClaim")), sentenceGap(),
      check.decidedAtOnce ? "" : t(check.cancellingFreesTheClaim ? "check.cancelFrees" : "check.cancelCounts")));
  } else {
    warnings.push(h("p", {}, t("check.notAClaim")));
  }
  return h("section", { "aria-labelledby": heading.id, class: "notice" }, heading,
    h("p", {}, t("check.nothingSent")), warnings, policyChecks(check.assessment));
}

export function requestFormPage(who, orderId) {
  const idempotencyKey = newIdempotencyKey();
  const reason = field("form.reason", h("textarea", { name: "reason", required: true }));
  const ticket = field("form.ticket", h("input", { type: "text", name: "supportTicketId", required: true }));
  const button = h("button", { type: "submit" }, t("form.send"));
  const checkButton = h("button", { type: "button", class: "secondary" }, t("form.check"));
  const alert = h("div", { class: "notice error", role: "alert", hidden: true });
  const checked = h("div", { "aria-live": "polite" });
  const form = h("form", { novalidate: true }, h("p", {}, t("form.ticketHelp")), reason, ticket, alert,
    h("p", { class: "muted" }, t("form.collectionNotice")),
    h("div", { class: "actions" }, checkButton, button, h("a", { href: "#/account" }, t("form.back"))), checked);
  // The check reads the ticket only (the rules do not weigh the reason); nothing is recorded.
  pressing(form, checkButton, alert, { supportTicketId: ticket }, async () => {
    replace(checked, null);
    const check = await call("GET", `/orders/${encodeURIComponent(orderId)}/assessment`,
      { query: { supportTicketId: form.elements.supportTicketId.value.trim() } });
    replace(checked, claimCheck(check));
  });
  submitting(form, button, alert, { reason, supportTicketId: ticket }, async () => {
    const created = await call("POST", "/refund-requests", {
      body: { orderId, reason: form.elements.reason.value, supportTicketId: form.elements.supportTicketId.value.trim() },
      idempotencyKey,
    });
    window.location.hash = `#/requests/${encodeURIComponent(created.requestId)}`;
  });
  return h("section", {}, h("h1", {}, t("form.heading", { order: orderId })), form);
}
