// Tai: the bug board (bugs by status, with severity, domain, occurrences and the flaky and
// regressed marks; `GET /api/tai/bugs?status=...`, one request per column, so each column's
// count is the API's total), the status summary (`GET /api/tai/status`), the features board
// (`GET /api/tai/features/board`) and the active sprint's progress (`GET /api/tai/sprint/
// active`). Every title is text (dom.js): a bug titled `<script>` shows those characters.

import { call, get } from "./api.js";
import { $, count, el, fill, loader } from "./dom.js";

export const BUG_STATES = ["open", "triaged", "in_progress", "regressed", "fixed", "closed", "wontfix"];
const SEVERITY_RANK = { critical: 0, high: 1, medium: 2, low: 3 };
const PER_COLUMN = 50;
const run = loader("#tai-page");

function label(state) {
  return state.replace("_", " ");
}

function bugCard(bug) {
  return el(
    "li",
    { class: "card-item", "data-bug": bug.id },
    el("span", { class: "title", "data-field": "title" }, bug.title),
    el(
      "span",
      { class: "meta" },
      el("span", { class: `pill sev-${bug.severity}`, "data-field": "severity" }, bug.severity),
      el("span", { class: "pill", "data-field": "domain" }, bug.domain),
      el("span", { class: "pill", "data-field": "occurrences", title: "occurrences" }, `x${bug.occurrences}`),
      bug.flaky ? el("span", { class: "pill mark", "data-field": "flaky" }, "flaky") : null,
      bug.regressed ? el("span", { class: "pill bad", "data-field": "regressed" }, `regressed x${bug.regressions}`) : null,
    ),
  );
}

function column(key, title, total, cards, empty) {
  const list = el("ul", { class: "cards" }, ...cards);
  if (!cards.length) list.append(el("li", { class: "empty" }, empty));
  const more = total > cards.length ? el("p", { class: "note" }, `${cards.length} of ${total} shown`) : null;
  return el(
    "section",
    { class: "column", "data-column": key },
    el("h3", {}, title, " ", el("span", { class: "count", "data-count": key }, String(total))),
    list,
    more,
  );
}

function renderBugs(answers) {
  const columns = BUG_STATES.map((state, i) => {
    const { data, meta } = answers[i];
    const bugs = [...data].sort(
      (a, b) => SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] || b.occurrences - a.occurrences,
    );
    return column(state, label(state), meta?.total ?? bugs.length, bugs.map(bugCard), "No bugs");
  });
  $("#bug-board").replaceChildren(...columns);
}

function renderStatus(status) {
  const sev = Object.entries(status.by_severity).map(([k, v]) => ({ label: `Open ${k}`, cells: [count(`tai.by_severity.${k}`, v)] }));
  const domains = Object.entries(status.by_domain).map(([k, v]) => ({ label: `Open in ${k}`, cells: [count(`tai.by_domain.${k}`, v)] }));
  fill($("#tai-status-table"), ["", "Count"], [
    { label: "Open bugs", cls: "total", cells: [count("tai.open_bugs", status.open_bugs)] },
    ...sev,
    ...domains,
    { label: "Regressed now", cells: [count("tai.regressed", status.regressed)] },
    { label: "Regressions ever", cells: [count("tai.regressions", status.regressions)] },
    { label: "Open flaky", cells: [count("tai.flaky", status.flaky)] },
    { label: "Jobs queued or running", cells: [count("tai.queue_depth", status.queue_depth)] },
  ]);
  $("#tai-last-commit").textContent = status.last_commit ? `last CI failure at ${status.last_commit}` : "";
}

function renderFeatures(board) {
  const columns = board.columns.map((c) =>
    column(
      c.status,
      label(c.status),
      c.count,
      c.features.map((f) =>
        el(
          "li",
          { class: "card-item", "data-feature": f.id },
          el("span", { class: "title", "data-field": "title" }, f.title),
          el(
            "span",
            { class: "meta" },
            el("span", { class: `pill pri-${f.priority}`, "data-field": "priority" }, f.priority),
            el("span", { class: "pill", "data-field": "domain" }, f.domain),
            f.target_release ? el("span", { class: "pill", "data-field": "release" }, f.target_release) : null,
            el("span", { class: "pill", "data-field": "open_bugs" }, `${f.open_bugs} open bugs`),
          ),
        ),
      ),
      "No features",
    ),
  );
  $("#feature-board").replaceChildren(...columns);
  $("#feature-total").textContent = `${board.total} features`;
}

function renderSprint(sprint) {
  const box = $("#sprint-box");
  if (!sprint) {
    box.replaceChildren(el("p", { class: "empty", "data-sprint": "none" }, "No active sprint"));
    return;
  }
  const p = sprint.progress || { items: 0, done: 0, percent: 0 };
  box.replaceChildren(
    el("p", { "data-sprint": sprint.id }, el("strong", { "data-field": "name" }, sprint.name), ` ${sprint.starts_at} to ${sprint.ends_at}`),
    sprint.goal ? el("p", { class: "note", "data-field": "goal" }, sprint.goal) : null,
    el(
      "p",
      { class: "row" },
      el("progress", { max: 100, value: p.percent }),
      el("span", { "data-field": "progress" }, `${p.done} of ${p.items} done (${p.percent}%)`),
    ),
  );
}

/** Loads and draws the Tai page for the current company. */
export function loadTai() {
  return run((current) => [
    get("/api/tai/status").then(current(renderStatus)),
    Promise.all(
      BUG_STATES.map((status) => call("GET", "/api/tai/bugs", { query: { status, limit: PER_COLUMN, sort: "-occurrences" } })),
    ).then(current(renderBugs)),
    get("/api/tai/features/board").then(current(renderFeatures)),
    get("/api/tai/sprint/active").then(current(renderSprint)),
  ]);
}
