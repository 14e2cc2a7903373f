// The app's shell: configuration, sign-in, the header (navigation by group, language, sign out), the pages.
import { configureApi } from "./api.js";
import { caller, completeHostedSignIn, configureAuth, signOut, usesLocalSignIn } from "./auth.js";
import { h, replace } from "./dom.js";
import { LANGUAGES, currentLanguage, preferredLanguage, t, useLanguage } from "./i18n.js";
import { accountPage, requestFormPage } from "./pages/account.js";
import { payoutsPage } from "./pages/payouts.js";
import { policyPage } from "./pages/policy.js";
import { queuePage } from "./pages/queue.js";
import { requestPage } from "./pages/request.js";
import { serviceLevelsPage } from "./pages/service-levels.js";
import { signInPage } from "./pages/sign-in.js";

const main = document.getElementById("main");

const ROUTES = [
  [/^#\/account$/, (who) => accountPage(who), "nav.account"],
  [/^#\/orders\/([^/]+)\/request$/, (who, orderId) => requestFormPage(who, orderId), "nav.account"],
  [/^#\/requests\/([^/]+)$/, (who, requestId) => requestPage(who, requestId), null],
  [/^#\/queue$/, (who) => (who.reviewer ? queuePage(who) : null), "nav.queue"],
  [/^#\/service-levels$/, (who) => (who.supervisor ? serviceLevelsPage(who) : null), "nav.serviceLevels"],
  [/^#\/policy$/, (who) => (who.policyOwner ? policyPage(who) : null), "nav.policy"],
  [/^#\/payouts$/, (who) => (who.finance || who.supervisor ? payoutsPage(who) : null), "nav.payouts"],
];

// A malformed %-escape in the address is taken as written rather than stopping the page.
function decoded(part) {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

function home(who) {
  if (who.finance) return "#/payouts";
  if (who.supervisor) return "#/service-levels";
  if (who.policyOwner) return "#/policy";
  if (who.reviewer) return "#/queue";
  return "#/account";
}

function header(who, current) {
  document.getElementById("brand").textContent = t("brand");
  const links = [["#/account", "nav.account"]];
  if (who?.reviewer) links.push(["#/queue", "nav.queue"]);
  if (who?.supervisor) links.push(["#/service-levels", "nav.serviceLevels"]);
  if (who?.policyOwner) links.push(["#/policy", "nav.policy"]);
  if (who?.finance || who?.supervisor) links.push(["#/payouts", "nav.payouts"]);
  const nav = document.getElementById("nav");
  nav.setAttribute("aria-label", t("nav.label"));
  replace(nav, who ? links.map(([href, key]) => h("a", { href, "aria-current": key === current ? "page" : null }, t(key))) : []);
  const language = h("select", { id: "language", onchange: (event) => changeLanguage(event.target.value) },
    Object.entries(LANGUAGES).map(([code, name]) => h("option", { value: code, lang: code, selected: code === currentLanguage() }, name)));
  const tools = [h("label", { class: "inline", for: "language" }, t("language")), language];
  if (who) tools.push(h("button", { type: "button", class: "secondary", onclick: () => signOut() }, t("signOut")));
  replace(document.getElementById("tools"), tools);
}

async function changeLanguage(code) {
  await useLanguage(code);
  await render();
  document.getElementById("language").focus();
}

async function render(event) {
  document.title = t("brand");
  const who = caller();
  if (!who) {
    header(null, null);
    const expired = Boolean(event?.detail?.expired);
    replace(main, signInPage(render, { hosted: !usesLocalSignIn(), expired }));
    return;
  }
  const hash = window.location.hash || "";
  for (const [pattern, page, navKey] of ROUTES) {
    const found = hash.match(pattern);
    if (!found) continue;
    const content = page(who, ...found.slice(1).map(decoded));
    if (content) {
      header(who, navKey);
      replace(main, content);
      return;
    }
  }
  window.location.replace(home(who));
}

async function start() {
  const config = await (await fetch("config.json", { cache: "no-cache" })).json();
  configureAuth(config);
  configureApi(config.apiBase);
  await useLanguage(preferredLanguage());
  await completeHostedSignIn();
  window.addEventListener("hashchange", async () => {
    await render();
    main.focus();
  });
  window.addEventListener("refunds:signed-out", render);
  await render();
}

start();
