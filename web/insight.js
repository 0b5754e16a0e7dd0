// A live AI insight: `POST /api/ai-insights/analyse?wait=false` starts the analysis as a job,
// then its events are followed (stream.js) and drawn as they come: progress steps, facts as
// they are computed, the narrative's tokens (as text nodes), the validation outcome, the
// provider and whether it is the offline one. Cancel posts `/api/jobs/{id}/cancel`.

import { post } from "./api.js";
import { $, el, problem } from "./dom.js";
import { follow } from "./stream.js";

const AT_DATE = new Set(["balance_sheet", "aged_receivables", "aged_payables"]);
let current = null;

function body(report, period) {
  if (AT_DATE.has(report)) return { report, to: period.to, ...(period.compare_to ? { compare_to: period.compare_to } : {}) };
  const found = { report, from: period.from, to: period.to };
  if (period.compare_from && period.compare_to) Object.assign(found, { compare_from: period.compare_from, compare_to: period.compare_to });
  return found;
}

function pill(selector, text, cls) {
  const node = $(selector);
  node.textContent = text;
  node.className = `pill ${cls || ""}`;
  node.hidden = !text;
}

function reset() {
  for (const id of ["#insight-steps", "#insight-facts", "#insight-narrative", "#insight-issues", "#event-log"]) $(id).replaceChildren();
  delete $("#insight-narrative").dataset.replaced;
  $("#event-count").textContent = "0";
  pill("#insight-provider", "");
  pill("#insight-validation", "");
}

function status(text) {
  $("#insight-status").textContent = text;
}

function step(text) {
  $("#insight-steps").append(el("li", {}, text));
}

function provider(name, model, offline) {
  pill("#insight-provider", offline ? `${name} provider · no language model` : `${name} · ${model}`, offline ? "offline" : "online");
}

function validation(outcome, issues = []) {
  pill("#insight-validation", `validation ${outcome}`, outcome === "passed" ? "good" : "bad");
  $("#insight-issues").replaceChildren(...issues.map((issue) => el("li", {}, typeof issue === "string" ? issue : issue.message || JSON.stringify(issue))));
}

/** Draws one event; each event comes once (the reader drops what it already delivered). */
function draw(event, job) {
  const log = $("#event-log");
  log.append(el("li", { "data-id": event.id, "data-type": event.type }, `${event.id} ${event.type}`));
  $("#event-count").textContent = String(log.children.length);
  const data = event.data || {};
  switch (event.type) {
    case "status":
      status(`${data.status} (attempt ${data.attempt})`);
      break;
    case "progress":
      if (data.step === "started") provider(data.provider, data.model, data.provider === "offline");
      if (data.step === "narrate") $("#insight-narrative").replaceChildren(); // a retry narrates afresh
      if (data.step === "validated") validation(data.validation);
      step(data.step === "retrying" ? `retrying in ${data.in_s}s` : data.step);
      break;
    case "fact": {
      const facts = $("#insight-facts");
      const item = el("li", { "data-key": data.key }, el("span", { class: "label" }, data.label), " ", el("strong", {}, data.text));
      const existing = [...facts.children].find((li) => li.dataset.key === data.key);
      if (existing) existing.replaceWith(item);
      else facts.append(item);
      break;
    }
    case "token": {
      const narrative = $("#insight-narrative");
      narrative.append(document.createTextNode(data.text));
      if (!job.firstToken) {
        job.firstToken = true;
        performance.mark("numbors:first-token");
      }
      break;
    }
    case "result": {
      // The tokens were the validated narrative already; the summary replaces them only if
      // the stream's text differs (marked, so a reader can tell).
      const narrative = $("#insight-narrative");
      if (narrative.textContent.trim() !== data.summary.trim()) {
        narrative.textContent = data.summary;
        narrative.dataset.replaced = "true";
      }
      provider(data.provider, data.model, data.offline);
      validation(data.validation.status, data.validation.issues);
      status("done");
      break;
    }
    case "error":
      status(`failed: ${data.message || data.code || "the analysis failed"}`);
      break;
    case "cancelled":
      status("cancelled");
      break;
    default:
      break;
  }
}

export async function analyse(report, period, onFinished) {
  if (current) current.stream.stop();
  reset();
  delete $("#insight").dataset.finished;
  performance.clearMarks("numbors:first-token"); // "numbors:analyse" is marked on the click (app.js)
  status("starting");
  $("#analyse-button").disabled = true;
  const job = { firstToken: false };
  try {
    const { data } = await post("/api/ai-insights/analyse", body(report, period), { wait: "false" });
    job.id = data.job.id;
    $("#insight").dataset.jobId = job.id;
    status("queued");
    $("#cancel-button").disabled = false;
    const stream = follow(data.events_url, {
      onEvent: (event) => draw(event, job),
      onState: (state, detail) => {
        if (state === "reconnecting") status(`connection lost, resuming after ${detail.lastEventId || "the start"}`);
        if (state === "connected" && detail.lastEventId) step(`resumed after ${detail.lastEventId}`);
      },
    });
    current = { job, stream };
    await stream.done;
  } catch (error) {
    status("failed");
    problem(error);
  } finally {
    $("#analyse-button").disabled = false;
    $("#cancel-button").disabled = true;
    $("#insight").dataset.finished = "true";
    onFinished();
  }
}

export async function cancel() {
  if (!current) return;
  try {
    await post(`/api/jobs/${current.job.id}/cancel`);
  } catch (error) {
    problem(error);
  }
}

/** Stops following the current analysis (signing out): the job itself goes on. */
export function leave() {
  if (current) current.stream.stop();
  current = null;
}
