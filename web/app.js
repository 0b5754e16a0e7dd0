// The dashboard's entry point: sign in or register, pick a company, a period, and read the
// books; start an AI insight and watch it stream; follow the company's jobs. The other
// pages (Tai's boards, the helpdesk's queues) are views of the same tab, chosen by the
// location's hash (#books, #tai, #helpdesk: no reload, so the in-memory session stays);
// their modules load the first time they are shown, off the books' critical path.

import { ApiError, get, post, setCompany, setToken, signOut, signedIn } from "./api.js";
import { $, el, notice, problem } from "./dom.js";
import { load } from "./reports.js";

function iso(d) {
  return d.toISOString().slice(0, 10);
}

function defaultPeriod() {
  const today = new Date();
  const year = today.getUTCFullYear();
  return {
    from: `${year}-01-01`,
    to: iso(today),
    compare_from: `${year - 1}-01-01`,
    compare_to: `${year - 1}-${iso(today).slice(5)}`,
  };
}

function period() {
  const form = new FormData($("#period"));
  return Object.fromEntries(["from", "to", "compare_from", "compare_to"].map((k) => [k, form.get(k) || ""]));
}

// The AI insight's modules (insight.js, stream.js) are not needed for the first chart: they
// load after the first view is drawn, so the page's first requests stay within the
// browser's six connections (one round instead of two).
const insight = () => import("./insight.js");

// view -> its section and how it loads (books: the period's reports and the jobs).
const VIEWS = {
  books: { section: "#dashboard", load: () => books() },
  tai: { section: "#tai-page", load: async () => (await import("./tai.js")).loadTai() },
  helpdesk: { section: "#helpdesk-page", load: async () => (await import("./helpdesk.js")).loadHelpdesk() },
};
// The views drawn for the current company and session; another company or a sign-in
// empties it, so a view shown again is loaded again.
const fresh = new Set();

function current() {
  const name = window.location.hash.slice(1);
  return name in VIEWS ? name : "books";
}

function show() {
  const name = current();
  for (const [view, { section }] of Object.entries(VIEWS)) $(section).hidden = view !== name;
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.view === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  return name;
}

/** Shows the current view, loading it when it is not drawn for this company yet. */
async function open() {
  if (!signedIn()) return;
  const name = show();
  if (fresh.has(name)) return;
  fresh.add(name);
  notice("");
  try {
    await VIEWS[name].load();
  } catch (error) {
    problem(error);
  }
}

function showSignedIn(user) {
  $("#auth").hidden = true;
  $("#nav").hidden = false;
  $("#sign-out").hidden = false;
  $("#company-box").hidden = false;
  $("#who").textContent = user ? user.name || user.email : "";
}

function showSignedOut() {
  $("#auth").hidden = false;
  for (const { section } of Object.values(VIEWS)) $(section).hidden = true;
  $("#nav").hidden = true;
  $("#sign-out").hidden = true;
  $("#company-box").hidden = true;
  $("#who").textContent = "";
}

/** Draws the current view afresh (another company, the period's Show, a refresh button). */
function reload() {
  fresh.clear();
  return open();
}

async function companies(preferred) {
  const list = await get("/api/companies", { limit: 100 });
  const select = $("#company");
  select.replaceChildren(...list.map((c) => el("option", { value: c.id }, `${c.name} (${c.role})`)));
  const chosen = list.find((c) => c.id === preferred) || list[0];
  if (chosen) {
    select.value = chosen.id;
    setCompany(chosen.id);
  }
}

async function books() {
  try {
    await load(period());
  } finally {
    if (signedIn()) await jobs();
  }
}

async function jobs() {
  try {
    const list = await get("/api/jobs", { limit: 10 });
    const rows = list.map((job) =>
      el(
        "tr",
        { "data-job": job.id },
        el("td", {}, job.kind),
        el("td", { "data-status": job.status }, job.status),
        el("td", {}, el("progress", { max: 1, value: job.progress ?? 0 })),
        el("td", {}, (job.created_at || "").replace("T", " ").slice(0, 19)),
        el("td", {}, ["queued", "running"].includes(job.status) ? el("button", { type: "button", class: "small", "data-cancel": job.id }, "Cancel") : ""),
      ),
    );
    const head = el("thead", {}, el("tr", {}, ...["Kind", "Status", "Progress", "Created", ""].map((h) => el("th", {}, h))));
    const body = el("tbody", {}, ...rows);
    if (!rows.length) body.append(el("tr", {}, el("td", { colSpan: 5, class: "empty" }, "No jobs yet")));
    $("#jobs-table").replaceChildren(head, body);
  } catch (error) {
    problem(error);
  }
}

async function enter(token, user, companyId) {
  setToken(token);
  fresh.clear();
  if (companyId) setCompany(companyId);
  showSignedIn(user);
  // The company list and the first view at once, not one after the other: without an
  // X-Company-Id the API answers for the user's first company (the first they joined), the
  // one the list puts first and the switcher then selects; a registration names its own.
  await Promise.all([companies(companyId), open()]);
  insight();
}

function formValues(form) {
  return Object.fromEntries([...new FormData(form).entries()].filter(([, v]) => v !== ""));
}

async function submit(event, path) {
  event.preventDefault();
  performance.mark("numbors:sign-in");
  const form = event.target;
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  notice("");
  try {
    const { data } = await post(path, formValues(form));
    form.reset();
    await enter(data.token, data.user, data.company?.id);
  } catch (error) {
    problem(error instanceof ApiError ? error : null);
  } finally {
    button.disabled = false;
  }
}

function start() {
  const form = $("#period");
  for (const [key, value] of Object.entries(defaultPeriod())) form.elements[key].value = value;
  $("#login").addEventListener("submit", (e) => submit(e, "/api/auth/login"));
  $("#register").addEventListener("submit", (e) => submit(e, "/api/auth/register"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    fresh.delete("books");
    open();
  });
  $("#company").addEventListener("change", (e) => {
    setCompany(e.target.value);
    reload();
  });
  window.addEventListener("hashchange", open);
  $("#tai-refresh").addEventListener("click", reload);
  $("#helpdesk-refresh").addEventListener("click", reload);
  $("#breaching-form").addEventListener("submit", (e) => {
    e.preventDefault();
    reload();
  });
  $("#sign-out").addEventListener("click", async () => {
    try {
      await post("/api/auth/logout");
    } catch {
      // signing out locally is what matters; the token is dropped either way
    }
    (await insight()).leave();
    signOut();
    showSignedOut();
  });
  $("#analyse").addEventListener("submit", async (e) => {
    e.preventDefault();
    delete $("#insight").dataset.finished; // at once, so no reader sees the last one's
    performance.clearMarks("numbors:analyse");
    performance.mark("numbors:analyse");
    const report = new FormData(e.target).get("report");
    (await insight()).analyse(report, period(), jobs);
    setTimeout(jobs, 300);
  });
  $("#cancel-button").addEventListener("click", async () => (await insight()).cancel());
  $("#jobs-refresh").addEventListener("click", jobs);
  $("#jobs-table").addEventListener("click", async (e) => {
    const id = e.target.dataset?.cancel;
    if (!id) return;
    try {
      await post(`/api/jobs/${id}/cancel`);
    } catch (error) {
      problem(error);
    }
    jobs();
  });
  if (!signedIn()) showSignedOut();
  document.body.dataset.ready = "true";
  performance.mark("numbors:ready");
}

start();
