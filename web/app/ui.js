// What every page shares: a load with its loading text and, when the API fails, the message and a retry;
// form fields with their errors beside them.
import { ApiError } from "./api.js";
import { h, replace, uniqueId } from "./dom.js";
import { currentLanguage, known, t, wordsFor } from "./i18n.js";

// The catalogue's sentence for the API's code (a request's status in words); null when it has none.
function codeWords(keys, params) {
  const key = keys.find(known);
  if (!key) return null;
  const values = { ...params };
  if (values.status) values.status = wordsFor("status", values.status).toLowerCase();
  return t(key, values);
}

// The API's message only where the page speaks its language (English); else the general words for it.
function apiWords(message, general) {
  return currentLanguage() === "en" && message ? message : t(general);
}

const GENERAL_WORDS = { 400: "error.invalid", 403: "error.forbidden", 404: "error.notFound", 409: "error.conflict",
  413: "error.invalid", 415: "error.invalid", 429: "error.busy", 503: "error.busy" };

export function problemText(error) {
  if (!(error instanceof ApiError)) return t("error.unexpected");
  if (error.status === 0) return t("error.unreachable");
  if (error.status === 401) return t("error.signedOut");
  if (error.status >= 500 && error.status !== 503) return t("error.server");
  // A call's own sentence; else what is wrong with each field it names; else the general words.
  const fields = error.errors.map(fieldErrorText).join(" ");
  return codeWords([`apiError.${error.code}`], error.params) ?? (fields
    || apiWords(error.message, GENERAL_WORDS[error.status] || "error.unexpected"));
}

// A field's error in the page's language: its code's words for this field, else for any field, else (in
// English) the API's own.
export function fieldErrorText(error) {
  return codeWords([`fieldError.${error.field}.${error.code}`, `fieldError.${error.code}`], error.params)
    ?? apiWords(error.message, "fieldError.invalid");
}

// Thrown by a load that a later one replaced: its answer is dropped, the later one shows.
export class Superseded extends Error {}

// `read`, of which only the call made last answers: an earlier one answering later (behind a cold start) throws
// Superseded, so that it never puts back what it read over what the later one shows.
export function latestOnly(read) {
  let latest = 0;
  return async (...args) => {
    const mine = ++latest;
    const found = await read(...args);
    if (mine !== latest) throw new Superseded();
    return found;
  };
}

// Runs load(), shows its result with render(); a failure shows the problem in words and a retry button.
export async function loadInto(container, load, render) {
  replace(container, h("p", { class: "loading", role: "status" }, t("loading")));
  try {
    const result = await load();
    replace(container, render(result));
  } catch (error) {
    if (error instanceof Superseded || (error instanceof ApiError && error.status === 401)) return;
    const retry = h("button", { type: "button", class: "secondary", onclick: () => loadInto(container, load, render) },
      t("retry"));
    replace(container, h("div", { class: "notice", role: "alert" }, h("p", {}, problemText(error)), retry));
    retry.focus();
  }
}

// A labelled field; its error (the API's words) is shown beside it and announced.
export function field(labelKey, control) {
  const id = control.id || uniqueId("field");
  control.id = id;
  return withErrorBeside(h("div", { class: "field" }, h("label", { for: id }, t(labelKey)), control), [control]);
}

// The wrapper of one or more controls (a field, a group of choices) gains an error shown at its end, which
// describes each control, and showError(message), which marks them invalid while there is one.
export function withErrorBeside(wrapper, controls) {
  const error = h("p", { class: "error", id: `${controls[0].id}-error`, hidden: true });
  for (const control of controls) control.setAttribute("aria-describedby", error.id);
  wrapper.append(error);
  wrapper.showError = (message) => {
    error.textContent = message || "";
    error.hidden = !message;
    for (const control of controls) {
      if (message) control.setAttribute("aria-invalid", "true");
      else control.removeAttribute("aria-invalid");
    }
  };
  return wrapper;
}

// Fields a form needs, left empty: thrown from a submit, each is said beside its field as the API says a missing
// one (fieldError.missing).
export function missingFields(names) {
  return new ApiError(400, "", names.map((field) => ({ field, code: "missing", message: "", params: {} })));
}

// A form's submit: one send at a time (the button is disabled while it runs), errors beside their fields,
// the rest in the form's alert.
export function submitting(form, button, alert, fields, send) {
  const run = guarded(form, button, alert, fields, send);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run();
  });
}

// Another button of a form (a check before sending), its errors placed as the submit's are.
export function pressing(form, button, alert, fields, send) {
  button.addEventListener("click", guarded(form, button, alert, fields, send));
}

function guarded(form, button, alert, fields, send) {
  return async () => {
    if (button.disabled) return;
    button.disabled = true;
    alert.hidden = true;
    for (const wrapper of Object.values(fields)) wrapper.showError("");
    try {
      await send();
    } catch (error) {
      let placed = false;
      if (error instanceof ApiError) {
        for (const [name, wrapper] of Object.entries(fields)) {
          const message = error.forField(name).map(fieldErrorText).join(" ");
          if (message) {
            wrapper.showError(message);
            placed = true;
          }
        }
      }
      if (!placed || error.status === 0) {
        alert.textContent = problemText(error);
        alert.hidden = false;
      }
      const invalid = form.querySelector("[aria-invalid='true']");
      (invalid || button).focus();
    } finally {
      button.disabled = false;
    }
  };
}

// A table on a wide screen, a stack of cards on a phone (styles.css): each cell carries its column's name,
// shown before it when the header row is hidden, so that no status or action is ever off the screen. Between the
// two widths it scrolls sideways in a region a keyboard can reach.
export function dataTable(caption, names, body) {
  return h("div", { class: "table-wrap", tabindex: 0, role: "region", "aria-label": caption }, h("table", { class: "cards" },
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, names.map((name) => h("th", { scope: "col" }, name)))),
    body));
}

// One row of a dataTable: the first cell heads the row (`header` its attributes), the rest are its cells.
export function tableRow(names, [first, ...cells], { header = {} } = {}) {
  return h("tr", {}, h("th", { scope: "row", ...header }, first),
    cells.map((cell, index) => h("td", { "data-label": names[index + 1] }, cell)));
}

export function columnNames(keys) {
  return keys.map((key) => t(key));
}

export function statusWords(status) {
  return t(`status.${status}`);
}

// `data` saved as the JSON file `name` by the browser (a link the page follows for the user: the call needed the
// bearer token, so the browser cannot fetch the file itself).
export function saveJson(data, name) {
  const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" }));
  const link = h("a", { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

// A file's size in words: kilobytes, or megabytes to one decimal.
export function fileSize(bytes) {
  return bytes >= 1024 * 1024 ? t("evidence.megabytes", { value: (bytes / (1024 * 1024)).toFixed(1) })
    : t("evidence.kilobytes", { value: Math.max(1, Math.round(bytes / 1024)) });
}

// A button that runs one call at a time: disabled while it runs, its failure in words in `alert`.
export function onePress(button, alert, action) {
  button.addEventListener("click", async () => {
    if (button.disabled) return;
    button.disabled = true;
    alert.hidden = true;
    try {
      await action();
    } catch (error) {
      alert.textContent = problemText(error);
      alert.hidden = false;
    } finally {
      button.disabled = false;
    }
  });
}
