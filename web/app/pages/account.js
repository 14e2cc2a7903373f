// Manage Account → Refunds: the customer's orders, each with its refund status, and the request form.
import { call, newIdempotencyKey } from "../api.js";
import { h, uniqueId } from "../dom.js";
import { money, refundedElsewhereText, shortDay, t } from "../i18n.js";
import { field, loadInto, statusWords, submitting } from "../ui.js";

async function allOrders() {
  const items = [];
  let nextToken;
  do {
    const page = await call("GET", "/orders", { query: { nextToken } });
    items.push(...page.items);
    nextToken = page.nextToken;
  } while (nextToken && items.length < 500);
  return items;
}

function orderRow(order) {
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
  return h("tr", {}, h("th", { scope: "row", id: rowHeader }, order.orderId),
    h("td", {}, shortDay(order.orderedAt)), h("td", {}, money(order.amount)), h("td", {}, status), h("td", {}, action));
}

function ordersTable(orders) {
  if (!orders.length) return h("p", { class: "notice" }, t("orders.none"));
  return h("div", { class: "table-wrap" }, h("table", {},
    h("caption", {}, t("orders.caption")),
    h("thead", {}, h("tr", {}, ["orders.order", "orders.date", "orders.amount", "orders.refundStatus", "orders.action"]
      .map((key) => h("th", { scope: "col" }, t(key))))),
    h("tbody", {}, orders.map(orderRow))));
}

export function accountPage() {
  const container = h("div");
  loadInto(container, allOrders, ordersTable);
  return h("section", {}, h("h1", {}, t("account.heading")), h("p", {}, t("account.intro")), container);
}

export function requestFormPage(who, orderId) {
  const idempotencyKey = newIdempotencyKey();
  const reason = field("form.reason", h("textarea", { name: "reason", required: true }));
  const ticket = field("form.ticket", h("input", { type: "text", name: "supportTicketId", required: true }));
  const button = h("button", { type: "submit" }, t("form.send"));
  const alert = h("div", { class: "notice error", role: "alert", hidden: true });
  const form = h("form", { novalidate: true }, h("p", {}, t("form.ticketHelp")), reason, ticket, alert,
    h("div", { class: "actions" }, button, h("a", { href: "#/account" }, t("form.back"))));
  submitting(form, button, alert, { reason, supportTicketId: ticket }, async () => {
    const created = await call("POST", "/refund-requests", {
      body: { orderId, reason: form.elements.reason.value, supportTicketId: form.elements.supportTicketId.value.trim() },
      idempotencyKey,
    });
    window.location.hash = `#/requests/${encodeURIComponent(created.requestId)}`;
  });
  return h("section", {}, h("h1", {}, t("form.heading", { order: orderId })), form);
}
