// The books at a glance: profit and loss (a chart of income and expenses by month, and the
// period against its comparison), balance sheet, cash flow and ageing, each read from the
// public report endpoints (`/api/reports/...`) and shown as the API answers it.

import { get } from "./api.js";
import { barChart } from "./charts.js";
import { $, figure, fill, loader, short } from "./dom.js";

const MAX_MONTHS = 12;
const BUCKETS = ["current", "1-30", "31-60", "61-90", "90+"];

function iso(d) {
  return d.toISOString().slice(0, 10);
}

/** The calendar months of [from, to], clipped to the period, the last MAX_MONTHS of them. */
export function months(from, to) {
  const found = [];
  const end = new Date(`${to}T00:00:00Z`);
  let cursor = new Date(`${from}T00:00:00Z`);
  while (cursor <= end) {
    const monthEnd = new Date(Date.UTC(cursor.getUTCFullYear(), cursor.getUTCMonth() + 1, 0));
    found.push({
      label: cursor.toLocaleString("en-US", { month: "short", year: "2-digit", timeZone: "UTC" }),
      from: iso(cursor),
      to: iso(monthEnd < end ? monthEnd : end),
    });
    cursor = new Date(Date.UTC(cursor.getUTCFullYear(), cursor.getUTCMonth() + 1, 1));
  }
  return { shown: found.slice(-MAX_MONTHS), clipped: found.length > MAX_MONTHS };
}

function lines(prefix, rows, compared) {
  return rows.map((row) => ({
    label: row.code ? `${row.code} ${row.name}` : row.name,
    cells: [
      figure(`${prefix}.${row.code || row.name}`, row.amount),
      ...(compared ? [figure(`${prefix}.${row.code || row.name}.previous`, row.previous), figure(`${prefix}.${row.code || row.name}.change`, row.change)] : []),
    ],
  }));
}

function total(label, key, value, previous, change, compared) {
  return {
    label,
    cls: "total",
    cells: [figure(key, value), ...(compared ? [figure(`${key}.previous`, previous), figure(`${key}.change`, change)] : [])],
  };
}

function renderProfitAndLoss(report) {
  const c = report.comparison;
  const compared = Boolean(c);
  const head = ["Account", "This period", ...(compared ? ["Comparison", "Change"] : [])];
  const rows = [
    ...lines("pnl.income", report.income, compared),
    total("Total income", "pnl.total_income", report.total_income, c?.total_income, c?.income_change.change, compared),
    ...lines("pnl.expenses", report.expenses, compared),
    total("Total expenses", "pnl.total_expenses", report.total_expenses, c?.total_expenses, c?.expenses_change.change, compared),
    total("Net profit", "pnl.net_profit", report.net_profit, c?.net_profit, c?.net_profit_change.change, compared),
  ];
  fill($("#pnl-table"), head, rows);
  for (const span of document.querySelectorAll("[data-currency]")) span.textContent = report.currency;
}

function renderMonthly(labels, reports) {
  barChart($("#pnl-chart"), {
    caption: "Income and expenses by month",
    labels,
    series: [
      { name: "Income", cls: "income", values: reports.map((r) => r.total_income) },
      { name: "Expenses", cls: "expenses", values: reports.map((r) => r.total_expenses) },
    ],
    format: short,
  });
}

function section(prefix, rows) {
  return rows.map((row) => ({ label: row.code ? `${row.code} ${row.name}` : row.name, cells: [figure(`${prefix}.${row.code || row.name}`, row.amount)] }));
}

function renderBalanceSheet(report) {
  $("#balance-as-of").textContent = `at ${report.as_of}${report.balanced ? "" : " (not balanced)"}`;
  fill($("#balance-table"), ["Account", "Amount"], [
    ...section("balance.assets", report.assets),
    { label: "Total assets", cls: "total", cells: [figure("balance.total_assets", report.total_assets)] },
    ...section("balance.liabilities", report.liabilities),
    { label: "Total liabilities", cls: "total", cells: [figure("balance.total_liabilities", report.total_liabilities)] },
    ...section("balance.equity", report.equity),
    { label: "Total equity", cls: "total", cells: [figure("balance.total_equity", report.total_equity)] },
  ]);
}

function renderCashFlow(report) {
  const flows = (prefix, rows) => rows.map((row) => ({ label: row.name, cells: [figure(`${prefix}.${row.name}`, row.amount)] }));
  fill($("#cashflow-table"), ["", "Amount"], [
    { label: "Opening cash", cells: [figure("cash.opening_cash", report.opening_cash)] },
    ...flows("cash.inflows", report.inflows),
    { label: "Total inflows", cls: "total", cells: [figure("cash.total_inflows", report.total_inflows)] },
    ...flows("cash.outflows", report.outflows),
    { label: "Total outflows", cls: "total", cells: [figure("cash.total_outflows", report.total_outflows)] },
    { label: "Other movements", cells: [figure("cash.other_movements", report.other_movements)] },
    { label: "Net change", cls: "total", cells: [figure("cash.net_change", report.net_change)] },
    { label: "Closing cash", cls: "total", cells: [figure("cash.closing_cash", report.closing_cash)] },
  ]);
}

function renderAged(kind, report) {
  const rows = report.contacts.map((contact) => ({
    label: contact.name,
    cells: [...BUCKETS.map((b) => figure(`${kind}.${contact.name}.${b}`, contact[b])), figure(`${kind}.${contact.name}.total`, contact.total)],
  }));
  rows.push({ label: "Total", cls: "total", cells: [...BUCKETS.map((b) => figure(`${kind}.totals.${b}`, report.totals[b])), figure(`${kind}.total`, report.total)] });
  fill($(`#${kind}-table`), ["Contact", ...BUCKETS, "Total"], rows);
}

function renderAgeingChart(receivables, payables) {
  $("#aged-as-of").textContent = `at ${receivables.as_of}`;
  barChart($("#aged-chart"), {
    caption: "Receivables and payables by days past due",
    labels: BUCKETS,
    series: [
      { name: "Receivables", cls: "income", values: BUCKETS.map((b) => receivables.totals[b]) },
      { name: "Payables", cls: "expenses", values: BUCKETS.map((b) => payables.totals[b]) },
    ],
    format: short,
  });
}

const run = loader("#dashboard");

/**
 * Loads and draws every report of the period; each panel as soon as its answer is in (a
 * later load, another period or company, supersedes this one: `loader` in dom.js). Once
 * every panel of the current load is drawn, `#dashboard[data-loaded]` says so.
 */
export function load(period) {
  const { from, to, compare_from, compare_to } = period;
  const { shown, clipped } = months(from, to);
  $("#period-note").textContent = clipped ? `chart: the last ${MAX_MONTHS} months of the period` : "";
  const asOf = { as_of: to };
  // The ageing chart's two requests first (the first chart drawn) with the period's own
  // reports; the monthly chart's one-per-month requests only once the ageing is in: sent
  // together, the twelve would share the server with the first chart's two and the tables.
  return run((current) => {
    const ageing = Promise.all([get("/api/reports/aged-receivables", asOf), get("/api/reports/aged-payables", asOf)]).then(
      current(([r, p]) => {
        renderAged("receivables", r);
        renderAged("payables", p);
        renderAgeingChart(r, p);
      }),
    );
    const monthly = ageing
      .catch(() => undefined)
      .then(() => Promise.all(shown.map((m) => get("/api/reports/profit-and-loss", { from: m.from, to: m.to }))))
      .then(current((r) => renderMonthly(shown.map((m) => m.label), r)));
    return [
      ageing,
      get("/api/reports/profit-and-loss", { from, to, compare_from, compare_to }).then(current(renderProfitAndLoss)),
      get("/api/reports/balance-sheet", asOf).then(current(renderBalanceSheet)),
      get("/api/reports/cash-flow", { from, to }).then(current(renderCashFlow)),
      monthly,
    ];
  });
}
