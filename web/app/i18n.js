// The two message catalogues and the local ways of writing dates and money. No page text lives elsewhere.
export const LANGUAGES = { en: "English", "zh-HK": "繁體中文" };
const LOCALES = { en: "en-GB", "zh-HK": "zh-HK" };
const STORED = "refunds.language";
const HONG_KONG = "Asia/Hong_Kong";

let language = "en";
let messages = {};
// The rules' reasons: the service's own catalogue (policy/reasons/), which its emails render too.
let reasons = {};

export function preferredLanguage() {
  const stored = localStorage.getItem(STORED);
  if (stored in LANGUAGES) return stored;
  const browser = (navigator.languages || [navigator.language || "en"]).map((tag) => tag.toLowerCase());
  return browser.some((tag) => tag.startsWith("zh")) ? "zh-HK" : "en";
}

export async function useLanguage(chosen) {
  const [pageWords, reasonWords] = await Promise.all([`app/i18n/${chosen}.json`, `app/i18n/reasons/${chosen}.json`]
    .map(async (path) => (await fetch(path, { cache: "no-cache" })).json()));
  messages = pageWords;
  reasons = reasonWords;
  language = chosen;
  localStorage.setItem(STORED, chosen);
  document.documentElement.lang = chosen;
}

export function currentLanguage() {
  return language;
}

// t("request.heading", {id}) → the catalogue's text with {id} filled in; a missing key shows the key itself.
export function t(key, values = {}) {
  const text = messages[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

// "Wednesday 16 December 2026" in English (no comma, as the emails write it); "2026年12月16日星期三" in Chinese.
export function day(iso) {
  const format = new Intl.DateTimeFormat(LOCALES[language], {
    timeZone: HONG_KONG, weekday: "long", day: "numeric", month: "long", year: "numeric",
  });
  if (language !== "en") return format.format(new Date(iso));
  const part = Object.fromEntries(format.formatToParts(new Date(iso)).map(({ type, value }) => [type, value]));
  return `${part.weekday} ${part.day} ${part.month} ${part.year}`;
}

export function shortDay(iso) {
  return new Intl.DateTimeFormat(LOCALES[language], {
    timeZone: HONG_KONG, day: "numeric", month: "short", year: "numeric",
  }).format(new Date(iso));
}

// A date and time, said to be Hong Kong's ("6 Dec 2026, 20:00 HKT"): staff and customers abroad read it too.
export function moment(iso) {
  const time = new Intl.DateTimeFormat(LOCALES[language], {
    timeZone: HONG_KONG, day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit",
    hourCycle: "h23",
  }).format(new Date(iso));
  return t("time.hongKong", { time });
}

// Money as the API gives it ({amount: "7.50", currency: "USD"}): the decimal string is formatted as is.
export function money(value) {
  if (!value) return "";
  return new Intl.NumberFormat(LOCALES[language], { style: "currency", currency: value.currency }).format(value.amount);
}

// Today in Hong Kong as YYYY-MM-DD, and n days before it.
export function hongKongDate(offsetDays = 0) {
  const moment = new Date(Date.now() + offsetDays * 86400000);
  return new Intl.DateTimeFormat("en-CA", { timeZone: HONG_KONG }).format(moment);
}

export function known(key) {
  return key in messages;
}

// The catalogue's words for a value the API names (an outcome, an email's kind...), else the value itself.
export function wordsFor(prefix, value) {
  const key = `${prefix}.${value}`;
  return key in messages ? messages[key] : String(value ?? "");
}

// A template of the reasons' catalogue filled as policy/reasons.py fills it: {name}, {name|date}, {name|table}.
function fillReason(template, params) {
  return template.replace(/\{(\w+)(?:\|(\w+))?\}/g, (whole, name, table) => {
    const given = params[name];
    if (given === undefined) return whole;
    if (!table) return String(given);
    if (table === "date") return shortDay(given);
    const known = reasons.tables[table] || {};
    const one = (code) => fillReason(known[code] || known["*"] || String(code).replaceAll("_", " "), params);
    if (Array.isArray(given)) return [...new Set(given.map(one))].sort().join(reasons.joins[table]);
    return one(given);
  });
}

// What goes between two sentences: a space in English, nothing in Chinese.
export function sentenceGap() {
  return language === "zh-HK" ? "" : " ";
}

// Why a rule passed or failed, in the page's language: from its code and parameters; a result recorded
// before reasons had codes shows the English reason it has.
export function reasonText(rule) {
  const sentence = rule.code && reasons.reasons?.[rule.code];
  if (!sentence) return rule.reason;
  const params = rule.params || {};
  const clause = reasons.clauseQuote.replace("{clause}", () => fillReason(reasons.clauses[rule.id], params));
  const text = `${fillReason(sentence, params)}${sentenceGap()}${clause}`;
  return text.charAt(0).toUpperCase() + text.slice(1);
}

// Who refunds an order the company cannot (the App Store's: Apple): the policy's English words, or the
// translation's.
export function refundedElsewhereText(channel, english) {
  const known = reasons.tables?.excludedChannels || {};
  return language === "en" ? english : known[channel] || known["*"] || english;
}

// Said once under reasons given in a translation ("English prevails"); nothing in English.
export function englishPrevails() {
  return reasons.englishPrevails || "";
}
