// The two message catalogues and the local ways of writing dates and money. No page text lives elsewhere.
export const LANGUAGES = { en: "English", "zh-HK": "繁體中文" };
const LOCALES = { en: "en-GB", "zh-HK": "zh-HK" };
const STORED = "refunds.language";
const HONG_KONG = "Asia/Hong_Kong";

let language = "en";
let messages = {};

export function preferredLanguage() {
  const stored = localStorage.getItem(STORED);
  if (stored in LANGUAGES) return stored;
  const browser = (navigator.languages || [navigator.language || "en"]).map((tag) => tag.toLowerCase());
  return browser.some((tag) => tag.startsWith("zh")) ? "zh-HK" : "en";
}

export async function useLanguage(chosen) {
  const response = await fetch(`app/i18n/${chosen}.json`, { cache: "no-cache" });
  messages = await response.json();
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

export function moment(iso) {
  return new Intl.DateTimeFormat(LOCALES[language], {
    timeZone: HONG_KONG, day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit",
  }).format(new Date(iso));
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

// The catalogue's words for a value the API names (an outcome, an email's kind...), else the value itself.
export function wordsFor(prefix, value) {
  const key = `${prefix}.${value}`;
  return key in messages ? messages[key] : String(value ?? "");
}
