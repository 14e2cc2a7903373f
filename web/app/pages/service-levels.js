// The supervisors' service levels: a period's figures, the open requests by working days left as a chart,
// and the period's decisions as CSV, at once or, for a long period, as a file prepared in the background; a
// customer's personal data, to answer their written request for it; and the
// canned replies reviewers start their notes from.
import { call } from "../api.js";
import { h, replace, uniqueId } from "../dom.js";
import { day, hongKongDate, money, t } from "../i18n.js";
import {
  Superseded, columnNames, dataTable, field, fileSize, latestOnly, loadInto, missingFields, onePress, pressing,
  problemText, saveJson, submitting, tableRow,
} from "../ui.js";

const BUCKETS = ["0", "1", "2", "3-5", "6-10"];

function chart(open) {
  const counts = BUCKETS.map((bucket) => open.byWorkingDaysLeft[bucket] ?? 0);
  const highest = Math.max(1, ...counts);
  const width = 480, height = 220, bottom = 180, bar = 60, gap = 32, left = 30;
  const label = t("sla.chart");
  const described = BUCKETS.map((bucket, index) => t("sla.chartBar", { bucket, count: counts[index] })).join("; ");
  return h("svg", { class: "chart", role: "img", "aria-label": label, viewBox: `0 0 ${width} ${height}` },
    h("title", {}, `${label}: ${described}`),
    h("line", { x1: left - 10, y1: bottom, x2: width - 10, y2: bottom, stroke: "#4a5561" }),
    BUCKETS.map((bucket, index) => {
      const barHeight = Math.round((counts[index] / highest) * 150);
      const x = left + index * (bar + gap);
      return h("g", {},
        h("rect", { x, y: bottom - barHeight, width: bar, height: barHeight, fill: bucket === "0" ? "#a4161a" : "#0b5cad" }),
        h("text", { x: x + bar / 2, y: bottom - barHeight - 6, "text-anchor": "middle", "font-size": 14, fill: "#1b1f24" }, String(counts[index])),
        h("text", { x: x + bar / 2, y: bottom + 20, "text-anchor": "middle", "font-size": 14, fill: "#1b1f24" }, bucket));
    }),
    h("text", { x: width / 2, y: height - 4, "text-anchor": "middle", "font-size": 13, fill: "#4a5561" }, t("sla.axis")));
}

function figures(report) {
  const decided = report.decided || {};
  const items = [
    ["sla.open", report.open.total], ["sla.overdue", report.open.overdue], ["sla.received", report.received],
    ["sla.approved", decided.APPROVED ?? 0], ["sla.refused", decided.REFUSED ?? 0], ["sla.cancelled", report.cancelled],
    ["sla.automatic", report.decidedAutomatically], ["sla.inTime", report.decidedInTime], ["sla.late", report.decidedLate],
    ["sla.median", report.workingDaysToDecision.median ?? t("none")],
    ["sla.p90", report.workingDaysToDecision.p90 ?? t("none")], ["sla.max", report.workingDaysToDecision.max ?? t("none")],
    ["sla.refunded", report.refunded.length ? report.refunded.map(money).join(" + ") : t("none")],
  ];
  return h("ul", { class: "figures" }, items.map(([key, value]) => h("li", {}, h("span", {}, t(key)), h("br"), h("strong", {}, String(value)))));
}

export function serviceLevelsPage() {
  const fields = {
    from: field("sla.from", h("input", { type: "date", name: "from", value: hongKongDate(-30) })),
    to: field("sla.to", h("input", { type: "date", name: "to", value: hongKongDate(0) })),
  };
  const button = h("button", { type: "submit" }, t("sla.show"));
  const alert = h("div", { class: "notice error", role: "alert", hidden: true });
  const form = h("form", { class: "filters", novalidate: true }, fields.from, fields.to, h("div", {}, button), alert);
  const report = h("div");
  let blobUrl = null;

  // The figures and the export of one period: a period the API refuses is said once, beside its field.
  submitting(form, button, alert, fields, async () => {
    const period = { from: form.elements.from.value, to: form.elements.to.value };
    const [found, csv] = await Promise.all([call("GET", "/reports/sla", { query: period }),
      // The export needs the bearer token, so it is fetched here and offered as a file (a blob link).
      call("GET", "/reports/decisions.csv", { query: period, accept: "text/csv" })]);
    if (blobUrl) URL.revokeObjectURL(blobUrl);
    blobUrl = URL.createObjectURL(csv);
    replace(report, [h("h2", {}, t("sla.period", { from: day(found.from), to: day(found.to) })), figures(found),
      chart(found.open), h("a", { href: blobUrl, download: `decisions-${period.from}-${period.to}.csv` }, t("sla.download"))]);
  });
  queueMicrotask(() => form.requestSubmit());
  return h("section", {}, h("h1", {}, t("sla.heading")), form, report, exportsSection(form, fields),
    personalDataForm(), cannedRepliesSection());
}

const EXPORT_COLUMNS = ["exports.period", "exports.askedBy", "exports.state", "exports.action"];
const EXPORTS = "/reports/decisions-exports";
// The list is read again soon after an export is asked for (a short one is done within a second), then every 2 s.
const PROGRESS_EVERY_MS = 2000;
const FIRST_READ_AFTER_MS = 250;

// The decisions of a long period (up to a year) as a file a job prepares: the form's period, asked for here;
// the exports of the last 7 days listed with their progress, read again while one runs and the page shows it;
// each file downloaded by a link asked for when pressed (a link lasts minutes).
function exportsSection(form, fields) {
  const heading = h("h2", { id: uniqueId("exports") }, t("exports.heading"));
  const button = h("button", { type: "button" }, t("exports.start"));
  const alert = h("div", { class: "notice error", role: "alert", hidden: true });
  const list = h("div");
  let timer = null;
  const names = columnNames(EXPORT_COLUMNS);

  function state(item) {
    if (item.status === "RUNNING") {
      const period = { from: day(item.from), to: day(item.to) };
      return h("div", {},
        h("progress", { max: item.days, value: item.daysRead, "aria-label": t("exports.progressOf", period) }), " ",
        t("exports.running", { days: item.daysRead, of: item.days, rows: item.rows }));
    }
    if (item.status === "DONE") return t("exports.done", { rows: item.rows, size: fileSize(item.size ?? 0) });
    return t("exports.failed");
  }
  function action(item) {
    if (item.status !== "DONE") return t("none");
    const rowAlert = h("div", { class: "notice error", role: "alert", hidden: true });
    const download = h("button", { type: "button", class: "secondary",
      "aria-label": t("exports.downloadOf", { from: day(item.from), to: day(item.to) }) }, t("exports.download"));
    onePress(download, rowAlert, async () => {
      const fresh = await call("GET", `${EXPORTS}/${encodeURIComponent(item.exportId)}`);
      window.location.assign(fresh.downloadUrl);
    });
    return h("div", { class: "actions" }, download, rowAlert);
  }
  let wait = FIRST_READ_AFTER_MS;
  function show(exports) {
    clearTimeout(timer);
    if (exports.items.some((item) => item.status === "RUNNING")) {
      timer = setTimeout(() => list.isConnected && refresh(), wait);
      wait = Math.min(wait * 2, PROGRESS_EVERY_MS);
    }
    if (!exports.items.length) return h("p", {}, t("exports.none"));
    return dataTable(t("exports.caption"), names, h("tbody", {}, exports.items.map((item) => tableRow(names,
      [t("sla.period", { from: day(item.from), to: day(item.to) }), item.requestedBy, state(item), action(item)]))));
  }
  // Only the read asked for last is shown: the page's first, answering late, would hide the export just asked for.
  const read = latestOnly(() => call("GET", EXPORTS));
  // Quietly, while a job runs; a read that fails stops the reading and says so, with a retry.
  async function refresh() {
    try {
      replace(list, show(await read()));
    } catch (error) {
      if (error instanceof Superseded) return;
      clearTimeout(timer);
      const retry = h("button", { type: "button", class: "secondary", onclick: () => loadInto(list, read, show) },
        t("retry"));
      replace(list, h("div", { class: "notice", role: "alert" }, h("p", {}, problemText(error)), retry));
    }
  }
  pressing(form, button, alert, fields, async () => {
    await call("POST", EXPORTS, { body: { from: form.elements.from.value, to: form.elements.to.value } });
    wait = FIRST_READ_AFTER_MS;
    await refresh();
  });
  loadInto(list, read, show);
  return h("section", { class: "exports", "aria-labelledby": heading.id }, heading, h("p", {}, t("exports.intro")),
    h("div", {}, button), alert, list);
}

const REPLY_COLUMNS = ["replies.title", "replies.status", "replies.action"];

// An id for a new reply, from its title: lower case letters, digits and hyphens (what the API takes).
function replyIdOf(title) {
  const slug = title.normalize("NFKD").toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 48);
  return slug || `reply-${Date.now()}`;
}

// The library of canned replies: each in both languages, edited with the version read, retired when no longer
// wanted (kept, offered no more).
function cannedRepliesSection() {
  const heading = h("h2", { id: uniqueId("replies") }, t("replies.heading"));
  const list = h("div");
  const fields = {
    title: field("replies.title", h("input", { type: "text", name: "title", autocomplete: "off" })),
    english: field("replies.english", h("textarea", { name: "english" })),
    chinese: field("replies.chinese", h("textarea", { name: "chinese" })),
  };
  const button = h("button", { type: "submit" }, t("replies.save"));
  const alert = h("div", { class: "notice error", role: "alert", hidden: true });
  const saved = h("p", { role: "status" });
  const form = h("form", { novalidate: true }, Object.values(fields), h("div", {}, button), alert, saved);
  let editing = null; // the reply being edited: its id and the version read
  const reload = () => loadInto(list, () => call("GET", "/canned-replies"), show);
  const edit = (reply) => {
    editing = { replyId: reply.replyId, version: reply.version };
    form.elements.title.value = reply.title;
    form.elements.english.value = reply.english;
    form.elements.chinese.value = reply.chinese;
    form.elements.title.focus();
  };
  function show(library) {
    if (!library.items.length) return h("p", { class: "notice" }, t("replies.none"));
    const names = columnNames(REPLY_COLUMNS);
    return dataTable(t("replies.caption"), names, h("tbody", {}, library.items.map((reply) => {
      const rowAlert = h("div", { class: "notice error", role: "alert", hidden: true });
      const retire = h("button", { type: "button", class: "secondary" }, t("replies.retire"));
      onePress(retire, rowAlert, async () => {
        await call("POST", `/canned-replies/${encodeURIComponent(reply.replyId)}/retire`, { body: { version: reply.version } });
        reload();
      });
      const actions = reply.retired ? t("none")
        : h("div", { class: "actions" }, h("button", { type: "button", class: "secondary", onclick: () => edit(reply) },
          t("replies.edit")), retire, rowAlert);
      return tableRow(names, [reply.title, t(reply.retired ? "replies.retired" : "replies.inUse"), actions]);
    })));
  }
  submitting(form, button, alert, fields, async () => {
    saved.textContent = "";
    const body = { title: form.elements.title.value.trim(), english: form.elements.english.value,
      chinese: form.elements.chinese.value };
    const missing = Object.keys(body).filter((name) => !body[name].trim());
    if (missing.length) throw missingFields(missing);
    const replyId = editing?.replyId ?? replyIdOf(body.title);
    if (editing) body.version = editing.version;
    const reply = await call("PUT", `/canned-replies/${encodeURIComponent(replyId)}`, { body });
    editing = null;
    form.reset();
    saved.textContent = t("replies.saved", { title: reply.title });
    reload();
  });
  reload();
  return h("section", { "aria-labelledby": heading.id }, heading, h("p", {}, t("replies.intro")), list, form);
}

// The same file the customer can download themselves, for a named customer.
function personalDataForm() {
  const heading = h("h2", { id: uniqueId("data") }, t("data.staffHeading"));
  const username = field("data.username", h("input", { type: "text", name: "username", autocomplete: "off" }));
  const button = h("button", { type: "submit" }, t("data.downloadTheirs"));
  const alert = h("div", { class: "notice error", role: "alert", hidden: true });
  const saved = h("p", { role: "status" });
  const form = h("form", { novalidate: true }, h("p", {}, t("data.staffIntro")), username, h("div", {}, button), alert,
    saved);
  submitting(form, button, alert, { username }, async () => {
    saved.textContent = "";
    const name = form.elements.username.value.trim();
    // Without a name the API would answer the supervisor's own data.
    if (!name) throw missingFields(["username"]);
    const data = await call("GET", "/personal-data", { query: { username: name } });
    const file = `personal-data-${data.username}.json`;
    saveJson(data, file);
    const nothing = !data.profile && !data.orders.length && !data.refundRequests.length;
    saved.textContent = t(nothing ? "data.nothingKept" : "data.saved", { file, username: data.username });
  });
  return h("section", { "aria-labelledby": heading.id }, heading, form);
}
