// Small SVG bar charts drawn with DOM calls: no library, no inline style (presentation
// attributes and classes only, which the Content-Security-Policy allows), labels as text.

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 640;
const HEIGHT = 240;
const PAD = { top: 16, right: 12, bottom: 40, left: 64 };

function node(name, attributes = {}, text = null) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  if (text !== null) element.textContent = text;
  return element;
}

function niceStep(span) {
  const raw = span / 4 || 1;
  const power = 10 ** Math.floor(Math.log10(raw));
  const scaled = raw / power;
  const nice = scaled <= 1 ? 1 : scaled <= 2 ? 2 : scaled <= 5 ? 5 : 10;
  return nice * power;
}

/**
 * Grouped bars: `labels` along the bottom, one bar per series in each group.
 * series: [{name, values, cls}]; `format` writes a value for the axis and the tooltips.
 */
export function barChart(figure, { labels, series, format, caption }) {
  const values = series.flatMap((s) => s.values);
  const low = Math.min(0, ...values);
  const high = Math.max(0, ...values);
  const step = niceStep(high - low);
  const top = Math.ceil(high / step) * step || step;
  const bottom = Math.floor(low / step) * step;
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const y = (v) => PAD.top + ((top - v) / (top - bottom)) * plotH;

  const svg = node("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", class: "bars" });
  svg.append(node("title", {}, caption));
  for (let tick = bottom; tick <= top + step / 2; tick += step) {
    svg.append(node("line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: y(tick), y2: y(tick), class: tick === 0 ? "axis" : "grid" }));
    svg.append(node("text", { x: PAD.left - 6, y: y(tick) + 4, class: "tick", "text-anchor": "end" }, format(tick)));
  }
  const group = plotW / Math.max(labels.length, 1);
  const bar = Math.max(2, Math.min(28, (group * 0.8) / series.length));
  labels.forEach((label, i) => {
    const start = PAD.left + i * group + (group - bar * series.length) / 2;
    series.forEach((s, k) => {
      const value = s.values[i];
      const rect = node("rect", {
        x: start + k * bar,
        y: Math.min(y(value), y(0)),
        width: bar - 1,
        height: Math.max(Math.abs(y(value) - y(0)), value === 0 ? 0 : 1),
        class: `bar ${s.cls}`,
        "data-series": s.name,
        "data-label": label,
        "data-value": value,
      });
      rect.append(node("title", {}, `${s.name}, ${label}: ${format(value)}`));
      svg.append(rect);
    });
    svg.append(node("text", { x: PAD.left + i * group + group / 2, y: HEIGHT - PAD.bottom + 16, class: "label", "text-anchor": "middle" }, label));
  });
  series.forEach((s, k) => {
    const x = PAD.left + k * 130;
    svg.append(node("rect", { x, y: HEIGHT - 14, width: 10, height: 10, class: `bar ${s.cls}` }));
    svg.append(node("text", { x: x + 14, y: HEIGHT - 5, class: "legend" }, s.name));
  });
  figure.replaceChildren(svg);
  figure.dataset.drawn = "true";
  if (!performance.getEntriesByName("numbors:first-chart").length) performance.mark("numbors:first-chart");
}
