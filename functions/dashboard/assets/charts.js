// Charts of values per day, drawn as SVG by hand: axes with ticks and labels, grid lines, a
// tooltip under the pointer, keyboard reading (arrow keys move from day to day and a live region
// says the day's value), and the same numbers as a table for screen readers.

const SVG = "http://www.w3.org/2000/svg";
const HEIGHT = 260;
const MARGIN = { top: 16, right: 16, bottom: 52, left: 56 };

function svg(name, attributes = {}, parent) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (parent) parent.appendChild(node);
  return node;
}

function html(name, attributes = {}, text) {
  const node = document.createElement(name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Ticks for 0..max: about `count` round steps (1, 2 or 5 × 10ⁿ, at least 1: the figures are
 * whole numbers), the last one at or above `max`. */
export function ticks(max, count = 5) {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = Math.max(1, [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw));
  const out = [];
  for (let value = 0; value < max + step; value += step) out.push(value);
  return out;
}

const dayLabel = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", timeZone: "UTC" });
const dayLong = new Intl.DateTimeFormat(undefined, { weekday: "short", year: "numeric", month: "short", day: "numeric", timeZone: "UTC" });
const number = new Intl.NumberFormat();
const charts = new WeakMap();

function dayOf(date) {
  return new Date(`${date}T00:00:00Z`);
}

/**
 * Draws a chart of `points` ([{date: "yyyy-mm-dd", value}]) into `figure` (a <figure>):
 * `kind` "bar" or "line", `title` (the caption), `unit` ("meetings") and `yLabel` (the axis
 * title). Redraws itself when its width changes.
 */
export function dayChart(figure, { points, kind, title, unit, one = unit, yLabel }) {
  const units = (value) => `${number.format(value)} ${value === 1 ? one : unit}`;
  charts.get(figure)?.disconnect();
  figure.replaceChildren();
  const id = figure.id || `chart-${Math.random().toString(36).slice(2)}`;
  const caption = html("figcaption", { id: `${id}-caption` }, title);
  const plot = html("div", { class: "chart-plot" });
  const tooltip = html("div", { class: "tooltip", "aria-hidden": "true", hidden: "" });
  const live = html("p", { class: "sr-only", "aria-live": "polite", id: `${id}-live` });
  const hint = html("p", { class: "sr-only", id: `${id}-hint` }, "Use the left and right arrow keys to read each day.");
  figure.append(caption, plot, live, hint, dataTable(id, points, title, unit));
  plot.appendChild(tooltip);

  const total = points.reduce((sum, p) => sum + p.value, 0);
  const peak = points.reduce((best, p) => (p.value > (best?.value ?? -1) ? p : best), null);
  const summary =
    points.length === 0
      ? `${title}: no days in the range.`
      : `${title}, ${dayLabel.format(dayOf(points[0].date))} to ${dayLabel.format(dayOf(points[points.length - 1].date))}: ` +
        `${units(total)} in all` +
        (peak && peak.value > 0 ? `, most on ${dayLabel.format(dayOf(peak.date))} (${number.format(peak.value)}).` : ".");

  let active = -1;
  let geometry = null;

  function draw() {
    const width = Math.max(280, Math.floor(plot.clientWidth || 600));
    plot.querySelector("svg")?.remove();
    const root = svg("svg", {
      viewBox: `0 0 ${width} ${HEIGHT}`,
      width,
      height: HEIGHT,
      role: "img",
      tabindex: 0,
      "aria-label": summary,
      "aria-describedby": `${id}-hint`,
      focusable: "true",
    });
    const innerW = width - MARGIN.left - MARGIN.right;
    const innerH = HEIGHT - MARGIN.top - MARGIN.bottom;
    const max = Math.max(1, ...points.map((p) => p.value));
    const yTicks = ticks(max);
    const yMax = yTicks[yTicks.length - 1];
    const y = (v) => MARGIN.top + innerH - (v / yMax) * innerH;
    const band = points.length ? innerW / points.length : innerW;
    const x = (i) => MARGIN.left + band * i + band / 2;

    // Grid and y axis.
    const grid = svg("g", { class: "grid", "aria-hidden": "true" }, root);
    const yAxis = svg("g", { class: "axis", "aria-hidden": "true" }, root);
    for (const tick of yTicks) {
      svg("line", { x1: MARGIN.left, x2: width - MARGIN.right, y1: y(tick), y2: y(tick) }, grid);
      svg("line", { x1: MARGIN.left - 5, x2: MARGIN.left, y1: y(tick), y2: y(tick) }, yAxis);
      const label = svg("text", { x: MARGIN.left - 8, y: y(tick) + 4, "text-anchor": "end" }, yAxis);
      label.textContent = number.format(tick);
    }
    svg("line", { x1: MARGIN.left, x2: MARGIN.left, y1: MARGIN.top, y2: MARGIN.top + innerH }, yAxis);
    const yTitle = svg("text", {
      class: "axis-title",
      transform: `translate(14 ${MARGIN.top + innerH / 2}) rotate(-90)`,
      "text-anchor": "middle",
    }, yAxis);
    yTitle.textContent = yLabel;

    // X axis: about one label per 64 px.
    const xAxis = svg("g", { class: "axis", "aria-hidden": "true" }, root);
    svg("line", { x1: MARGIN.left, x2: width - MARGIN.right, y1: MARGIN.top + innerH, y2: MARGIN.top + innerH }, xAxis);
    const every = Math.max(1, Math.ceil(points.length / Math.max(1, Math.floor(innerW / 64))));
    points.forEach((p, i) => {
      if (i % every !== 0 && i !== points.length - 1) return;
      if (i === points.length - 1 && i % every !== 0 && i % every < every / 2) return;
      svg("line", { x1: x(i), x2: x(i), y1: MARGIN.top + innerH, y2: MARGIN.top + innerH + 5 }, xAxis);
      const label = svg("text", { x: x(i), y: MARGIN.top + innerH + 18, "text-anchor": "middle" }, xAxis);
      label.textContent = dayLabel.format(dayOf(p.date));
    });
    const xTitle = svg("text", { class: "axis-title", x: MARGIN.left + innerW / 2, y: HEIGHT - 8, "text-anchor": "middle" }, xAxis);
    xTitle.textContent = "Day (UTC)";

    // The data.
    const marks = svg("g", { "aria-hidden": "true" }, root);
    const nodes = [];
    if (kind === "bar") {
      const barW = Math.max(1, Math.min(40, band * 0.7));
      points.forEach((p, i) => {
        const top = y(p.value);
        const bar = svg("rect", {
          class: "bar",
          x: x(i) - barW / 2,
          y: top,
          width: barW,
          height: Math.max(0, MARGIN.top + innerH - top),
        }, marks);
        const tip = svg("title", {}, bar);
        tip.textContent = `${dayLong.format(dayOf(p.date))}: ${units(p.value)}`;
        nodes.push(bar);
      });
    } else {
      const coords = points.map((p, i) => [x(i), y(p.value)]);
      if (coords.length) {
        const line = coords.map(([cx, cy], i) => `${i ? "L" : "M"}${cx.toFixed(1)},${cy.toFixed(1)}`).join("");
        svg("path", {
          class: "area",
          d: `${line}L${coords[coords.length - 1][0].toFixed(1)},${y(0)}L${coords[0][0].toFixed(1)},${y(0)}Z`,
        }, marks);
        svg("path", { class: "line", d: line }, marks);
      }
      coords.forEach(([cx, cy], i) => {
        const point = svg("circle", { class: "point", cx, cy, r: points.length > 45 ? 2.5 : 4 }, marks);
        const tip = svg("title", {}, point);
        tip.textContent = `${dayLong.format(dayOf(points[i].date))}: ${units(points[i].value)}`;
        nodes.push(point);
      });
    }
    const cursor = svg("line", { class: "cursor", y1: MARGIN.top, y2: MARGIN.top + innerH, visibility: "hidden", "aria-hidden": "true" }, root);
    // A transparent layer that catches the pointer over the whole plot.
    const hit = svg("rect", { x: MARGIN.left, y: MARGIN.top, width: innerW, height: innerH, fill: "transparent", "aria-hidden": "true" }, root);
    hit.addEventListener("pointermove", (event) => {
      const box = root.getBoundingClientRect();
      const scale = width / box.width;
      const px = (event.clientX - box.left) * scale;
      show(Math.min(points.length - 1, Math.max(0, Math.floor((px - MARGIN.left) / band))), false);
    });
    hit.addEventListener("pointerleave", hide);
    root.addEventListener("keydown", (event) => {
      if (!points.length) return;
      const moves = { ArrowRight: 1, ArrowLeft: -1, Home: -Infinity, End: Infinity };
      if (!(event.key in moves)) return;
      event.preventDefault();
      const step = moves[event.key];
      const next = step === -Infinity ? 0 : step === Infinity ? points.length - 1 : active < 0 ? points.length - 1 : active + step;
      show(Math.min(points.length - 1, Math.max(0, next)), true);
    });
    root.addEventListener("focus", () => {
      if (points.length && active < 0) show(points.length - 1, true);
    });
    root.addEventListener("blur", hide);
    plot.insertBefore(root, tooltip);
    geometry = { root, nodes, cursor, x, y, width };
  }

  function show(index, announce) {
    if (!geometry || index < 0 || index >= points.length) return;
    active = index;
    const { root, nodes, cursor, x, y, width } = geometry;
    nodes.forEach((node, i) => node.classList.toggle("active", i === index));
    cursor.setAttribute("x1", x(index));
    cursor.setAttribute("x2", x(index));
    cursor.setAttribute("visibility", "visible");
    const p = points[index];
    const text = `${dayLong.format(dayOf(p.date))}: ${units(p.value)}`;
    tooltip.textContent = text;
    tooltip.hidden = false;
    const scale = root.getBoundingClientRect().width / width || 1;
    const left = Math.min(Math.max(x(index) * scale, 70), plot.clientWidth - 70);
    tooltip.style.left = `${left}px`;
    tooltip.style.top = `${Math.max(0, y(p.value) * scale)}px`;
    if (announce) live.textContent = text;
  }

  function hide() {
    active = -1;
    tooltip.hidden = true;
    if (!geometry) return;
    geometry.nodes.forEach((node) => node.classList.remove("active"));
    geometry.cursor.setAttribute("visibility", "hidden");
  }

  draw();
  let lastWidth = plot.clientWidth;
  const observer = new ResizeObserver(() => {
    if (Math.abs(plot.clientWidth - lastWidth) < 2) return;
    lastWidth = plot.clientWidth;
    hide();
    draw();
  });
  observer.observe(plot);
  const handle = { redraw: draw, disconnect: () => observer.disconnect() };
  charts.set(figure, handle);
  return handle;
}

/** The chart's numbers as a table, in a disclosure under the chart. */
function dataTable(id, points, title, unit) {
  const details = html("details");
  details.appendChild(html("summary", {}, "Show the numbers"));
  const scroll = html("div", { class: "table-scroll", tabindex: 0, role: "region", "aria-label": `${title}: the numbers` });
  const table = html("table");
  table.appendChild(html("caption", { class: "sr-only" }, `${title}, per day`));
  const head = html("thead");
  const row = html("tr");
  row.append(html("th", { scope: "col" }, "Day"), html("th", { scope: "col", class: "num" }, unit[0].toUpperCase() + unit.slice(1)));
  head.appendChild(row);
  const body = html("tbody");
  for (const p of points) {
    const tr = html("tr");
    tr.append(html("td", {}, dayLong.format(dayOf(p.date))), html("td", { class: "num" }, number.format(p.value)));
    body.appendChild(tr);
  }
  table.append(head, body);
  scroll.appendChild(table);
  details.appendChild(scroll);
  return details;
}
