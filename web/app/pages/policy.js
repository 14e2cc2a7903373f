// The policy owners' page: the versions, the settings as a form saved as a draft, a what-if simulation of the
// draft over a period (outcomes before and after as a chart, the money difference, the requests that change),
// and publication from a moment in Hong Kong time.
import { call } from "../api.js";
import { h, replace, uniqueId } from "../dom.js";
import { hongKongDate, money, moment, t, wordsFor } from "../i18n.js";
import {
  columnNames, dataTable, field, latestOnly, loadInto, onePress, problemText, submitting, tableRow, withErrorBeside,
} from "../ui.js";

const OUTCOMES = ["FULL_REFUND", "PARTIAL_REFUND", "NEEDS_REVIEW", "REFUSED"];
// Whole numbers, by the document's name for them (which is also what a 400 names).
const NUMBERS = [
  ["claimWindowDays"], ["maxConnections"], ["reviewWorkingDays"], ["reminderWorkingDaysBeforeDeadline"],
  ["filingLimits", "perOrder"], ["filingLimits", "perCustomer"], ["filingLimits", "perCustomerDays"],
  ["personalDataYears"],
];
const SWITCHES = [
  ["automaticDecisions", "fullRefund"], ["automaticDecisions", "refused"], ["chargeElapsedTime"], ["cancelledClaimsCount"],
];
// Lists of the records' codes, offered as choices in words: the codes the records use, and any the document has.
const LISTS = [
  { path: ["excludedPaymentChannels"], words: "channel", known: ["card", "paypal", "crypto", "apple_itunes"] },
  { path: ["newOrderKinds"], words: "kind", known: ["new", "renewal"] },
];
// Who pays an approval's refund, per payment channel (PAYOUTS.md): a channel with no route is finance's.
const ROUTED_CHANNELS = ["card", "paypal", "crypto"];
const ROUTES = ["processor", "billing", "finance"];

const nameOf = (path) => path.join(".");
const valueAt = (document, path) => path.reduce((value, key) => value?.[key], document);
function withValue(document, path, value) {
  const [key, ...rest] = path;
  return { ...document, [key]: rest.length ? withValue(document[key] || {}, rest, value) : value };
}

// A number as typed: a whole number is sent as one, anything else as typed (the API names what is wrong).
function typedNumber(text) {
  return /^-?[0-9]+$/.test(text.trim()) ? Number(text.trim()) : text;
}

// Hong Kong keeps +08:00 all year: a moment typed in Hong Kong time, as ISO 8601 with its offset; none typed
// is now (the service makes it the first moment every function has read the version).
function hongKongMoment(local) {
  return local ? `${local}:00+08:00` : new Date().toISOString();
}

function versionsTable(found) {
  const rows = [
    ...found.scheduled.map((version) => [version, "policy.scheduled"]),
    [found.inForce, "policy.inForce"],
    ...found.earlier.map((version) => [version, "policy.earlier"]),
  ];
  const names = columnNames(["policy.version", "policy.state", "policy.effectiveFrom", "policy.publishedBy"]);
  return dataTable(t("policy.versions"), names, h("tbody", {}, rows.map(([version, state]) => tableRow(names, [
    version.version, t(state),
    version.publishedBy === "shipped" ? t("policy.fromTheStart") : moment(version.effectiveFrom),
    version.publishedBy === "shipped" ? t("policy.shipped") : version.publishedBy,
  ]))));
}

function outcomesChart(byOutcome) {
  const highest = Math.max(1, ...OUTCOMES.flatMap((outcome) => [byOutcome.was[outcome], byOutcome.would[outcome]]));
  const width = 560, height = 240, bottom = 190, bar = 40, group = 130, left = 30;
  const label = t("policy.chart");
  const described = OUTCOMES.map((outcome) => t("policy.chartBar", {
    outcome: wordsFor("outcome", outcome), was: byOutcome.was[outcome], would: byOutcome.would[outcome],
  })).join("; ");
  return h("svg", { class: "chart", role: "img", "aria-label": label, viewBox: `0 0 ${width} ${height}` },
    h("title", {}, `${label}: ${described}`),
    h("line", { x1: left - 10, y1: bottom, x2: width - 10, y2: bottom, stroke: "#4a5561" }),
    OUTCOMES.map((outcome, index) => {
      const x = left + index * group;
      const bars = [["was", "#6c7a89"], ["would", "#0b5cad"]].map(([side, colour], offset) => {
        const count = byOutcome[side][outcome];
        const barHeight = Math.round((count / highest) * 150);
        const barX = x + offset * (bar + 6);
        return h("g", {},
          h("rect", { x: barX, y: bottom - barHeight, width: bar, height: barHeight, fill: colour }),
          h("text", { x: barX + bar / 2, y: bottom - barHeight - 6, "text-anchor": "middle", "font-size": 13, fill: "#1b1f24" }, String(count)));
      });
      return h("g", {}, bars,
        h("text", { x: x + bar + 3, y: bottom + 20, "text-anchor": "middle", "font-size": 12, fill: "#1b1f24" }, wordsFor("outcome", outcome)));
    }),
    h("rect", { x: left, y: height - 16, width: 12, height: 12, fill: "#6c7a89" }),
    h("text", { x: left + 18, y: height - 6, "font-size": 12, fill: "#1b1f24" }, t("policy.was")),
    h("rect", { x: left + 160, y: height - 16, width: 12, height: 12, fill: "#0b5cad" }),
    h("text", { x: left + 178, y: height - 6, "font-size": 12, fill: "#1b1f24" }, t("policy.would")));
}

function moneyDifference(refunded) {
  if (!refunded.was.length) return h("p", {}, t("policy.noMoney"));
  return h("ul", { class: "figures" }, refunded.was.map((was, index) => {
    const would = refunded.would[index];
    const change = Number(would.amount) - Number(was.amount);
    const places = was.amount.split(".")[1]?.length ?? 0;
    // In words, not an accountant's parentheses (which read as a loss).
    const amount = money({ amount: Math.abs(change).toFixed(places), currency: was.currency });
    const difference = t(change > 0 ? "policy.more" : change < 0 ? "policy.less" : "policy.same", { amount });
    return h("li", {}, h("span", {}, t("policy.refunded", { currency: was.currency })), h("br"),
      h("strong", {}, t("policy.moneyChange", { was: money(was), would: money(would), difference })));
  }));
}

function changedTable(simulation) {
  if (!simulation.changed.length) return h("p", {}, t("policy.nothingChanges"));
  const caption = t("policy.changed", { count: simulation.changedCount });
  const names = columnNames(["policy.request", "policy.outcomeWas", "policy.outcomeWould", "policy.amountWas",
    "policy.amountWould"]);
  return dataTable(caption, names, h("tbody", {}, simulation.changed.map((change) => tableRow(names, [
    h("a", { href: `#/requests/${encodeURIComponent(change.requestId)}` }, change.requestId),
    wordsFor("outcome", change.outcome.was), wordsFor("outcome", change.outcome.would),
    money(change.suggestedAmount.was) || t("none"), money(change.suggestedAmount.would) || t("none"),
  ]))));
}

function simulationResult(simulation) {
  return [
    h("h3", {}, t("policy.simulated", { version: simulation.version, from: simulation.from, to: simulation.to })),
    h("p", { role: "status" }, t("policy.simulatedCount", {
      requests: simulation.requests, cancelled: simulation.cancelled, changed: simulation.changedCount })),
    outcomesChart(simulation.byOutcome), moneyDifference(simulation.refunded), changedTable(simulation),
  ];
}

const SIMULATIONS = "/policy/simulations";
// A simulation is read again soon after it is asked for (a short one is done within a second), then every 2 s.
const PROGRESS_EVERY_MS = 2000;
const FIRST_READ_AFTER_MS = 250;
const SIMULATION_COLUMNS = ["policy.version", "policy.period", "policy.askedBy", "policy.state", "policy.resultColumn"];

const progressWords = (job) => t("policy.simulating", { days: job.daysRead, of: job.days, requests: job.requestsRead });

// A simulation runs as a job (a year of requests outlasts an API call): the page follows the one asked for, or
// one picked from the list, showing how far it has come, then its result; following another stops the first.
function simulations(draft) {
  const result = h("div");
  const list = h("div");
  let following = null;
  let timer = null;

  function progress(job) {
    const period = { from: job.from, to: job.to };
    return h("div", {},
      h("progress", { max: job.days, value: job.daysRead, "aria-label": t("policy.progressOf", period) }), " ",
      h("span", { role: "status" }, progressWords(job)));
  }
  function shown(job) {
    if (job.status === "DONE") return simulationResult(job.result);
    if (job.status === "RUNNING") return progress(job);
    return h("div", { class: "notice", role: "alert" }, h("p", {}, t("policy.simulationFailed")));
  }
  // Quietly while the job runs; a read that fails says so, with a retry.
  async function follow(simulationId, wait = FIRST_READ_AFTER_MS) {
    following = simulationId;
    clearTimeout(timer);
    try {
      const job = await call("GET", `${SIMULATIONS}/${encodeURIComponent(simulationId)}`);
      if (following !== simulationId) return;
      replace(result, shown(job));
      if (job.status === "RUNNING") {
        const next = Math.min(wait * 2, PROGRESS_EVERY_MS);
        timer = setTimeout(() => result.isConnected && follow(simulationId, next), wait);
      } else {
        loadInto(list, readList, listed);
      }
    } catch (error) {
      if (following !== simulationId) return;
      const retry = h("button", { type: "button", class: "secondary", onclick: () => follow(simulationId) }, t("retry"));
      replace(result, h("div", { class: "notice", role: "alert" }, h("p", {}, problemText(error)), retry));
    }
  }
  function state(job) {
    if (job.status === "RUNNING") return progressWords(job);
    return t(job.status === "DONE" ? "policy.simulationDone" : "policy.simulationFailed");
  }
  function listed(found) {
    if (!found.items.length) return h("p", {}, t("policy.noSimulations"));
    const names = columnNames(SIMULATION_COLUMNS);
    return dataTable(t("policy.recentSimulations"), names, h("tbody", {}, found.items.map((job) => {
      const label = t("policy.showSimulation", { version: job.version, from: job.from, to: job.to });
      const show = h("button", { type: "button", class: "secondary", "aria-label": label }, t("policy.show"));
      const alert = h("div", { class: "notice error", role: "alert", hidden: true });
      onePress(show, alert, () => follow(job.simulationId));
      return tableRow(names, [job.version, t("sla.period", { from: job.from, to: job.to }), job.requestedBy,
        state(job), h("div", { class: "actions" }, show, alert)]);
    })));
  }
  // Only the list read last is shown: the page's first read, answering late, would show a simulation just ended
  // as still running.
  const readList = latestOnly(() => call("GET", SIMULATIONS));
  loadInto(list, readList, listed);
  return {
    result,
    list,
    async start(body) {
      const path = `/policy/drafts/${encodeURIComponent(draft.version)}/simulations`;
      const job = await call("POST", path, { body });
      replace(result, shown(job));
      loadInto(list, readList, listed);
      await follow(job.simulationId);
    },
  };
}

// A list setting as checkboxes in a group, its error (the API's words) shown under the group.
function choices(list, chosen) {
  const name = nameOf(list.path);
  const boxes = [...new Set([...list.known, ...chosen])].map((code) =>
    h("input", { type: "checkbox", name, value: code, id: uniqueId("choice"), checked: chosen.includes(code) }));
  const group = h("fieldset", { class: "field choices" }, h("legend", {}, t(`setting.${name}`)),
    boxes.map((box) => h("label", { class: "inline", for: box.id }, box, wordsFor(list.words, box.value))));
  return withErrorBeside(group, boxes);
}

// The versions already scheduled after a moment: each takes over on its date, whatever is published before it.
function scheduledAfter(scheduled, moment) {
  return scheduled.filter((version) => new Date(version.effectiveFrom) > new Date(moment))
    .toSorted((a, b) => a.effectiveFrom.localeCompare(b.effectiveFrom));
}

// Simulate and publish act on the draft as saved, by its name.
function draftActions(draft, scheduled, reload) {
  const from = field("policy.from", h("input", { type: "date", name: "from", value: hongKongDate(-30) }));
  const to = field("policy.to", h("input", { type: "date", name: "to", value: hongKongDate(0) }));
  const simulateButton = h("button", { type: "submit" }, t("policy.simulate"));
  const simulateAlert = h("div", { class: "notice error", role: "alert", hidden: true });
  const simulated = simulations(draft);
  const simulateForm = h("form", { novalidate: true, class: "filters" }, from, to, h("div", {}, simulateButton));
  submitting(simulateForm, simulateButton, simulateAlert, { from, to }, async () => {
    await simulated.start({ from: simulateForm.elements.from.value, to: simulateForm.elements.to.value });
  });

  const effective = field("policy.effectiveFromField", h("input", { type: "datetime-local", name: "effectiveFrom" }));
  const publishButton = h("button", { type: "submit" }, t("policy.publish"));
  const publishAlert = h("div", { class: "notice error", role: "alert", hidden: true });
  const published = h("p", { role: "status" });
  // Published before a version already scheduled, this one lasts only until that one's date: said before
  // anything is published, and published only when pressed again for the same moment.
  const overtaken = h("div", { class: "notice", role: "alert", hidden: true });
  let warnedFor = null;
  effective.querySelector("input").addEventListener("input", () => {
    warnedFor = null;
    overtaken.hidden = true;
    publishButton.textContent = t("policy.publish");
  });
  const publishForm = h("form", { novalidate: true }, h("p", {}, t("policy.publishHelp")), effective, overtaken,
    publishAlert, h("div", { class: "actions" }, publishButton), published);
  submitting(publishForm, publishButton, publishAlert, { effectiveFrom: effective }, async () => {
    const path = `/policy/drafts/${encodeURIComponent(draft.version)}/publish`;
    const typed = publishForm.elements.effectiveFrom.value;
    const body = { effectiveFrom: hongKongMoment(typed) };
    const [first] = scheduledAfter(scheduled, body.effectiveFrom);
    if (first && warnedFor !== typed) {
      warnedFor = typed;
      overtaken.textContent = t("policy.overtaken", { version: first.version, from: moment(first.effectiveFrom) });
      overtaken.hidden = false;
      publishButton.textContent = t("policy.publishAnyway");
      return;
    }
    const version = await call("POST", path, { body });
    await reload(t("policy.published", { version: version.version, from: moment(version.effectiveFrom) }));
  });
  return h("div", {},
    h("h2", {}, t("policy.simulateHeading", { version: draft.version })), h("p", {}, t("policy.simulateHelp")),
    simulateForm, simulateAlert, simulated.result, simulated.list,
    h("h2", {}, t("policy.publishHeading", { version: draft.version })), publishForm);
}

function settingsForm(found, onSaved) {
  const draft = found.drafts.toSorted((a, b) => b.savedAt.localeCompare(a.savedAt))[0];
  const base = draft ? draft.document : found.inForce.document;
  const fields = {};
  const version = field("policy.draftVersion", h("input", { type: "text", name: "version", value: draft?.version ?? "", required: true }));
  fields.version = version;
  const controls = [version];
  for (const path of NUMBERS) {
    const name = nameOf(path);
    fields[name] = field(`setting.${name}`, h("input", { type: "text", inputmode: "numeric", name, value: String(valueAt(base, path)) }));
    controls.push(fields[name]);
  }
  const gigabytes = base.trafficLimitBytes / base.bytesPerGb;
  fields.trafficLimitBytes = field("setting.trafficLimitGb", h("input", { type: "text", inputmode: "decimal", name: "trafficLimitGb", value: String(gigabytes) }));
  controls.push(fields.trafficLimitBytes);
  for (const currency of Object.keys(base.excessTrafficPricePerGb).sort()) {
    const name = `excessTrafficPricePerGb.${currency}`;
    fields[name] = field("setting.price", h("input", { type: "text", inputmode: "decimal", name, value: base.excessTrafficPricePerGb[currency] }));
    fields[name].querySelector("label").textContent = t("setting.price", { currency });
    controls.push(fields[name]);
  }
  // Four eyes: an approval of more than this needs a second reviewer; left empty, one reviewer decides.
  const secondAbove = base.secondApprovalAbove || {};
  const currencies = [...new Set([...Object.keys(base.excessTrafficPricePerGb), ...Object.keys(secondAbove)])].sort();
  for (const currency of currencies) {
    const name = `secondApprovalAbove.${currency}`;
    fields[name] = field("setting.secondApprovalAbove", h("input", { type: "text", inputmode: "decimal", name, value: secondAbove[currency] ?? "" }));
    fields[name].querySelector("label").textContent = t("setting.secondApprovalAbove", { currency });
    controls.push(fields[name]);
  }
  for (const list of LISTS) {
    const name = nameOf(list.path);
    fields[name] = choices(list, valueAt(base, list.path));
    controls.push(fields[name]);
  }
  const routes = base.payoutRoutes || {};
  for (const channel of ROUTED_CHANNELS) {
    const name = `payoutRoutes.${channel}`;
    const select = h("select", { name }, ROUTES.map((route) =>
      h("option", { value: route, selected: (routes[channel] || "finance") === route }, wordsFor("payout.route", route))));
    fields[name] = field("setting.payoutRoute", select);
    fields[name].querySelector("label").textContent = t("setting.payoutRoute", { channel: wordsFor("channel", channel) });
    controls.push(fields[name]);
  }
  const switches = SWITCHES.map((path) => {
    const name = nameOf(path);
    const box = h("input", { type: "checkbox", id: `setting-${name}`, name, checked: Boolean(valueAt(base, path)) });
    return h("div", { class: "field" }, h("label", { class: "inline", for: box.id }, box, t(`setting.${name}`)));
  });
  const button = h("button", { type: "submit" }, t("policy.save"));
  const alert = h("div", { class: "notice error", role: "alert", hidden: true });
  const form = h("form", { novalidate: true, class: "settings" },
    h("p", {}, t("policy.formHelp", { version: found.inForce.version })), controls, switches, alert,
    h("div", { class: "actions" }, button));

  submitting(form, button, alert, fields, async () => {
    const elements = form.elements;
    let document = { ...base };
    for (const path of NUMBERS) document = withValue(document, path, typedNumber(elements[nameOf(path)].value));
    const typedGb = elements.trafficLimitGb.value.trim();
    document.trafficLimitBytes = /^[0-9]+(\.[0-9]+)?$/.test(typedGb) ? Math.round(Number(typedGb) * base.bytesPerGb) : typedGb;
    const prices = {};
    for (const currency of Object.keys(base.excessTrafficPricePerGb)) prices[currency] = elements[`excessTrafficPricePerGb.${currency}`].value.trim();
    document.excessTrafficPricePerGb = prices;
    document.secondApprovalAbove = Object.fromEntries(currencies
      .map((currency) => [currency, elements[`secondApprovalAbove.${currency}`].value.trim()]).filter(([, above]) => above));
    for (const { path } of LISTS) {
      const ticked = [...form.querySelectorAll(`input[name="${nameOf(path)}"]:checked`)].map((box) => box.value);
      document = withValue(document, path, ticked);
    }
    for (const path of SWITCHES) document = withValue(document, path, elements[nameOf(path)].checked);
    document.payoutRoutes = Object.fromEntries(ROUTED_CHANNELS
      .map((channel) => [channel, elements[`payoutRoutes.${channel}`].value]).filter(([, route]) => route !== "finance"));
    const name = elements.version.value.trim();
    document.version = name;
    if (!name) {
      version.showError(t("policy.versionRequired"));
      elements.version.focus();
      return;
    }
    const saved = await call("PUT", `/policy/drafts/${encodeURIComponent(name)}`, { body: document });
    onSaved(saved);
  });
  return { form, draft };
}

function auditList(trail) {
  return h("ol", { class: "history", "aria-label": t("policy.audit") }, trail.items.map((entry) => h("li", {},
    h("time", { datetime: entry.at }, moment(entry.at)), " ",
    t(`audit.${entry.action}`, { version: entry.version }), " ",
    h("span", { class: "muted" }, t("history.by", { who: entry.by })))));
}

export function policyPage() {
  const versions = h("div");
  const editor = h("div");
  const actions = h("div");
  const notice = h("p", { role: "status" });
  const audit = h("div");

  const showDraft = (draft, scheduled) => replace(actions, draft ? draftActions(draft, scheduled, reload) : null);
  async function reload(message) {
    notice.textContent = message || "";
    await loadInto(versions, () => call("GET", "/policy"), (found) => {
      const { form, draft } = settingsForm(found, (saved) => {
        notice.textContent = t("policy.saved", { version: saved.version, at: moment(saved.savedAt) });
        showDraft(saved, found.scheduled);
        loadAudit();
      });
      replace(editor, h("h2", {}, t("policy.settings")), form);
      showDraft(draft, found.scheduled);
      return versionsTable(found);
    });
    loadAudit();
  }
  const loadAudit = () => loadInto(audit, () => call("GET", "/policy/audit", { query: { limit: 20 } }),
    (trail) => [h("h2", {}, t("policy.audit")), auditList(trail)]);
  reload();
  return h("section", {}, h("h1", {}, t("policy.heading")), notice, versions, editor, actions, audit);
}
