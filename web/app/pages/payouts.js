// The finance team's payouts (PAYOUTS.md "Finance"): by state, longest waiting first, with how many working
// days each has waited; finance marks one paid by hand, sends it again, or takes it over. Supervisors read.
import { call } from "../api.js";
import { h, replace } from "../dom.js";
import { hongKongDate, money, shortDay, t, wordsFor } from "../i18n.js";
import { columnNames, dataTable, field, latestOnly, loadInto, submitting, tableRow } from "../ui.js";

const STATES = ["SCHEDULED", "SENT", "FAILED", "MANUAL", "PAID"];
// What finance may do with a payout in each state (the API refuses the rest with a 409). One billing was asked to
// pay stays billing's until billing answers; the processor's, not yet sent, finance may take over.
const ACTIONS = {
  SCHEDULED: ["toFinance"],
  SENT: ["markPaid"],
  FAILED: ["retry", "markPaid", "toFinance"],
  MANUAL: ["markPaid", "retry"],
  PAID: [],
};
const actionsOn = (payout) => (payout.state === "SCHEDULED" && payout.route === "billing" ? [] : ACTIONS[payout.state]);

function actionForm(payout, action, done) {
  const fields = {};
  const controls = [];
  if (action === "markPaid") {
    fields.reference = field("payouts.paymentReference", h("input", { type: "text", name: "reference", required: true, maxlength: 128 }));
    fields.paidOn = field("payouts.paidOn", h("input", { type: "date", name: "paidOn", required: true, value: hongKongDate() }));
    controls.push(fields.reference, fields.paidOn);
  }
  if (action === "toFinance") {
    fields.note = field("payouts.note", h("textarea", { name: "note", rows: 3, maxlength: 2000, required: true }));
    controls.push(fields.note);
  }
  const alert = h("div", { class: "notice", role: "alert", hidden: true });
  const button = h("button", { type: "submit" }, t("payouts.confirm"));
  const form = h("form", { novalidate: true, class: "decision", "aria-label": t(`payouts.${action}`) },
    controls, alert, h("div", { class: "actions" }, button));
  submitting(form, button, alert, fields, async () => {
    const body = { action };
    for (const [name, wrapper] of Object.entries(fields)) body[name] = wrapper.querySelector("input, textarea").value;
    const changed = await call("POST", `/payouts/${encodeURIComponent(payout.requestId)}`, { body });
    done(changed);
  });
  return form;
}

function row(names, payout, who, openForm) {
  const actions = who.finance ? actionsOn(payout).map((action) =>
    h("button", { type: "button", class: "secondary", onclick: () => openForm(payout, action) }, t(`payouts.${action}`))) : [];
  return tableRow(names, [
    h("a", { href: `#/requests/${encodeURIComponent(payout.requestId)}` }, payout.requestId),
    payout.username, money(payout.amount), wordsFor("payoutState", payout.state), wordsFor("payout.route", payout.route),
    payout.reference || payout.failureReason || t("none"), shortDay(payout.stateSince), String(payout.workingDaysInState),
    h("div", { class: "row-actions" }, actions),
  ]);
}

export function payoutsPage(who) {
  const state = h("select", { id: "payouts-state", name: "state" },
    STATES.map((value) => h("option", { value }, wordsFor("payoutState", value))));
  const older = h("input", { type: "number", id: "payouts-older", name: "olderThanDays", min: 0, max: 3660, inputmode: "numeric" });
  const results = h("div");
  const area = h("div");
  const notice = h("p", { role: "status", class: "notice", hidden: true });
  const names = columnNames(["payouts.request", "payouts.customer", "payouts.amount", "payouts.state", "payouts.route",
    "payouts.reference", "payouts.since", "payouts.days", "payouts.actions"]);

  // Only the page read last is shown: a filter changed while a read was out wins over it.
  const read = latestOnly((query) => call("GET", "/payouts", { query }));
  const load = (nextToken, rows) => {
    const query = { state: state.value, olderThanDays: older.value || null, nextToken };
    return loadInto(results, () => read(query), (page) => show(page, rows));
  };
  const openForm = (payout, action) => {
    const done = (changed) => {
      replace(area, null);
      notice.textContent = t("payouts.done", { request: changed.requestId, state: wordsFor("payoutState", changed.state) });
      notice.hidden = false;
      load();
      notice.focus?.();
    };
    const heading = h("h2", {}, `${t(`payouts.${action}`)}: ${payout.requestId}`);
    const form = actionForm(payout, action, done);
    replace(area, h("section", { class: "notice" }, heading, form));
    form.querySelector("input, textarea, button")?.focus();
  };
  const show = (page, earlier = []) => {
    const rows = [...earlier, ...page.items.map((payout) => row(names, payout, who, openForm))];
    const table = dataTable(t("payouts.caption"), names, h("tbody", {}, rows));
    const more = page.nextToken
      ? h("button", { type: "button", class: "secondary", onclick: () => load(page.nextToken, rows) }, t("payouts.more"))
      : null;
    return [h("p", { role: "status" }, t("payouts.count", { count: rows.length })), table, h("div", { class: "actions" }, more)];
  };
  state.addEventListener("change", () => load());
  older.addEventListener("change", () => load());
  load();
  // The last 30 days' payouts, as finance reconciles them against the processor's and the bank's statements.
  const download = h("div");
  loadInto(download, () => call("GET", "/reports/payouts.csv", { accept: "text/csv" }),
    (csv) => h("a", { href: URL.createObjectURL(csv), download: "payouts.csv" }, t("payouts.download")));
  return h("section", {}, h("h1", {}, t("payouts.heading")),
    who.finance ? null : h("p", {}, t("payouts.readOnly")),
    h("div", { class: "filters" },
      h("div", {}, h("label", { for: state.id }, t("payouts.state")), state),
      h("div", {}, h("label", { for: older.id }, t("payouts.olderThan")), older)),
    notice, results, area, download);
}
