import { signInLocally, signInWithHostedUi } from "../auth.js";
import { h } from "../dom.js";
import { t } from "../i18n.js";
import { field } from "../ui.js";

export function signInPage(signedIn, { hosted = false, expired = false } = {}) {
  const notice = expired ? h("p", { class: "notice", role: "alert" }, t("error.signedOut")) : null;
  if (hosted) {
    return h("section", {}, h("h1", {}, t("signIn.heading")), notice, h("p", {}, t("signIn.hosted")),
      h("button", { type: "button", onclick: () => signInWithHostedUi() }, t("signIn.button")));
  }
  const username = field("signIn.username", h("input", { type: "text", name: "username", autocomplete: "username", required: true }));
  const groups = [["reviewer", "signIn.reviewer"], ["supervisor", "signIn.supervisor"], ["policyOwner", "signIn.policyOwner"],
    ["finance", "signIn.finance"]];
  const boxes = groups.map(([name, key]) => {
    const box = h("input", { type: "checkbox", name, id: `sign-in-${name}` });
    return [name, box, h("label", { class: "inline", for: box.id }, box, t(key))];
  });
  const button = h("button", { type: "submit" }, t("signIn.button"));
  const form = h("form", { novalidate: true }, username,
    h("fieldset", {}, h("legend", {}, t("signIn.groups")), boxes.map(([, , label]) => label)),
    h("div", { class: "actions" }, button));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = form.elements.username.value.trim();
    if (!name) {
      username.showError(t("signIn.usernameMissing"));
      form.elements.username.focus();
      return;
    }
    button.disabled = true;
    let problem;
    try {
      problem = await signInLocally(name, Object.fromEntries(boxes.map(([key, box]) => [key, box.checked])));
    } catch {
      problem = { message: t("error.unreachable") };
    } finally {
      button.disabled = false;
    }
    if (problem) {
      username.showError(problem.message || t("error.unexpected"));
      return;
    }
    // Each page is drawn once: a change of address draws it (hashchange), else it is drawn here.
    if (window.location.hash) window.location.hash = "";
    else await signedIn();
  });
  return h("section", {}, h("h1", {}, t("signIn.heading")), notice, h("p", {}, t("signIn.local")), form);
}
