// Helpdesk: the queues a support lead watches, read from the public ticket endpoints:
// - breaching within N minutes (`GET /api/helpdesk/tickets/breaching?within_minutes=N`):
//   tickets not yet breached whose next due time falls in the window, soonest first;
// - breached (`GET /api/helpdesk/tickets?breached=true`);
// - the open tickets by status (`?status=new|open|waiting|on_hold`, soonest due first; each
//   count is the API's total), each with its SLA: first response due, resolution due (null
//   while paused), agreement status and the breach flags as of the request.

import { call } from "./api.js";
import { $, el, loader, when } from "./dom.js";

export const LIVE = ["new", "open", "waiting", "on_hold"];
const PER_QUEUE = 50;
const run = loader("#helpdesk-page");
const HEAD = ["#", "Subject", "Priority", "Status", "SLA", "First response due", "Resolution due", "Agreement", "Breached"];

function due(key, stamp, breached) {
  return el("td", { "data-field": key, "data-value": stamp ?? "", class: breached ? "late" : null }, when(stamp));
}

function breaches(ticket) {
  const found = [];
  if (ticket.first_response_breached) found.push("first response");
  if (ticket.resolution_breached) found.push("resolution");
  return found.join(", ");
}

function row(ticket) {
  return el(
    "tr",
    { "data-ticket": ticket.id, "data-breached": String(ticket.breached) },
    el("td", { class: "num", "data-field": "number" }, ticket.number),
    el("td", { "data-field": "subject" }, ticket.subject),
    el("td", { "data-field": "priority" }, ticket.priority),
    el("td", { "data-field": "status" }, ticket.status.replace("_", " ")),
    el("td", { "data-field": "sla" }, ticket.sla_name ?? ""),
    due("first_response_due_at", ticket.first_response_due_at, ticket.first_response_breached),
    due("resolution_due_at", ticket.resolution_due_at, ticket.resolution_breached),
    el("td", { "data-field": "agreement" }, (ticket.agreement_status ?? "").replaceAll("_", " ")),
    el("td", { "data-field": "breached", class: ticket.breached ? "late" : null }, breaches(ticket)),
  );
}

function table(selector, tickets, total) {
  const head = el("thead", {}, el("tr", {}, ...HEAD.map((h) => el("th", {}, h))));
  const body = el("tbody", {}, ...tickets.map(row));
  if (!tickets.length) body.append(el("tr", {}, el("td", { colSpan: HEAD.length, class: "empty" }, "No tickets")));
  $(selector).replaceChildren(head, body);
  $(`${selector}-count`).textContent = total > tickets.length ? `${tickets.length} of ${total}` : String(total);
}

function renderBreaching({ data }) {
  $("#breaching-as-of").textContent = `due by ${data.within_minutes} minutes after ${when(data.as_of)}`;
  table("#breaching-table", data.tickets, data.tickets.length);
}

function renderQueues(answers) {
  const sections = LIVE.map((status, i) => {
    const { data, meta } = answers[i];
    const id = `#queue-${status}`;
    const section = el(
      "section",
      { class: "queue", "data-queue": status },
      el("h3", {}, status.replace("_", " "), " ", el("span", { class: "count", id: `${id.slice(1)}-count` })),
      el("table", { class: "figures", id: id.slice(1) }),
    );
    return { section, id, data, total: meta?.total ?? data.length };
  });
  $("#queues").replaceChildren(...sections.map((s) => s.section));
  for (const s of sections) table(s.id, s.data, s.total);
}

/** Loads and draws the helpdesk page for the current company. */
export function loadHelpdesk() {
  const within = Number($("#breaching-form").elements.within_minutes.value || 60);
  const list = (query) => call("GET", "/api/helpdesk/tickets", { query: { sort: "next_due_at", limit: PER_QUEUE, ...query } });
  return run((current) => [
    call("GET", "/api/helpdesk/tickets/breaching", { query: { within_minutes: within } }).then(current(renderBreaching)),
    list({ breached: "true" }).then(current(({ data, meta }) => table("#breached-table", data, meta?.total ?? data.length))),
    Promise.all(LIVE.map((status) => list({ status }))).then(current(renderQueues)),
  ]);
}
