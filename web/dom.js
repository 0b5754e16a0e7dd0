// DOM helpers: every text goes in with textContent (never innerHTML), so nothing the API
// answers, a narrative least of all, is ever read as markup.

export const $ = (selector) => document.querySelector(selector);

export function el(name, attributes = {}, ...children) {
  const element = document.createElement(name);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === null || value === undefined) continue;
    if (key === "class") element.className = value;
    else if (key.startsWith("data-")) element.setAttribute(key, String(value));
    else element[key] = value;
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

const money = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const compact = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });

export function amount(value) {
  return value === null || value === undefined ? "" : money.format(value);
}

export function short(value) {
  return compact.format(value);
}

/** A cell showing a figure, keyed so a reader (or a test) can find it: data-figure. */
export function figure(key, value) {
  return el("td", { class: "num", "data-figure": key, "data-value": value ?? "" }, amount(value));
}

/** A cell showing a count (an integer), keyed as `figure` is. */
export function count(key, value) {
  return el("td", { class: "num", "data-figure": key, "data-value": value ?? "" }, value ?? "");
}

/** An instant as the API answers it (ISO, UTC) written "YYYY-MM-DD HH:MM UTC"; "" for null. */
export function when(stamp) {
  return stamp ? `${stamp.slice(0, 10)} ${stamp.slice(11, 16)} UTC` : "";
}

/**
 * The loader of one page (`section`, a selector): `run(build)` starts the page's loads,
 * `build(current)` answering their promises, each drawing through `current(draw)`. A later
 * run supersedes this one: answers that come back after it started are dropped, so a slow
 * answer never draws over a newer one. Once every load of the current run is drawn,
 * `section[data-loaded]` says so; the first failure is thrown then.
 */
export function loader(section) {
  let generation = 0;
  return async function run(build) {
    const mine = ++generation;
    const node = $(section);
    delete node.dataset.loaded;
    const current = (draw) => (value) => (mine === generation ? draw(value) : undefined);
    const outcomes = await Promise.allSettled(build(current));
    if (mine !== generation) return;
    node.dataset.loaded = String(mine);
    const failed = outcomes.find((o) => o.status === "rejected");
    if (failed) throw failed.reason;
  };
}

/**
 * A table of rows: each row is {label, cells: [td...], cls}; `head` is the header row.
 */
export function fill(table, head, rows) {
  const thead = el("thead", {}, el("tr", {}, ...head.map((h, i) => el("th", { class: i ? "num" : null }, h))));
  const tbody = el("tbody");
  for (const row of rows) {
    tbody.append(el("tr", { class: row.cls || null }, el("th", { scope: "row" }, row.label), ...row.cells));
  }
  if (!rows.length) tbody.append(el("tr", {}, el("td", { colSpan: head.length, class: "empty" }, "Nothing to show")));
  table.replaceChildren(thead, tbody);
}

export function notice(message) {
  const box = $("#notice");
  box.textContent = message || "";
  box.hidden = !message;
}

/** Shows what went wrong, unless it only is an answer for a session that has ended. */
export function problem(error) {
  if (error && error.code === "signed_out") return;
  notice(error && error.message ? error.message : "the server could not be reached");
}
