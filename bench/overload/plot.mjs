// The overload plot as a self-contained SVG: goodput (left) and 2xx p99
// latency (right, log scale) against offered load, one line per server.

const W = 980;
const H = 505;
const PANEL_W = 400;
const PANEL_H = 300;
const TOP = 110;
const LEFTS = [80, 560];

export const esc = (s) =>
  String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (v) => (Number.isInteger(v) ? String(v) : v.toFixed(1));

export function niceStep(max, ticks) {
  const raw = max / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * mag >= raw) return m * mag;
  return 10 * mag;
}

function marker(shape, x, y, color) {
  const c = `fill="${color}" stroke="#fff" stroke-width="1.2"`;
  switch (shape) {
    case 'square':
      return `<rect x="${x - 5}" y="${y - 5}" width="10" height="10" ${c}/>`;
    case 'triangle':
      return `<path d="M${x} ${y - 6.5}L${x + 6} ${y + 4.5}L${x - 6} ${y + 4.5}Z" ${c}/>`;
    case 'diamond':
      return `<path d="M${x} ${y - 7}L${x + 7} ${y}L${x} ${y + 7}L${x - 7} ${y}Z" ${c}/>`;
    default:
      return `<circle cx="${x}" cy="${y}" r="5.5" ${c}/>`;
  }
}

/**
 * series: [{ label, color, shape, dash, points: [{ x, goodput, p99 }] }]
 * (x: offered req/s; p99 null when no 2xx came back).
 * opts: { title, subtitle, xs: [offered...], xLabels, capacity, goodputTarget, p99TargetMs, timeoutMs }
 */
export function overloadSvg(series, opts) {
  const out = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${W / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">${esc(opts.title)}</text>`,
    `<text x="${W / 2}" y="43" text-anchor="middle" fill="#555">${esc(opts.subtitle)}</text>`,
  );
  // Legend
  const legendW = 175;
  let lx = (W - legendW * series.length) / 2;
  for (const s of series) {
    out.push(
      `<line x1="${lx}" y1="64" x2="${lx + 30}" y2="64" stroke="${s.color}" stroke-width="2.5"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`,
      marker(s.shape, lx + 15, 64, s.color),
      `<text x="${lx + 38}" y="68">${esc(s.label)}</text>`,
    );
    lx += legendW;
  }

  const xs = opts.xs;
  const xAt = (left, x) => left + 40 + (xs.indexOf(x) / (xs.length - 1)) * (PANEL_W - 80);

  // ---- left: goodput, linear
  const gMax = Math.max(
    opts.capacity * 1.2,
    ...series.flatMap((s) => s.points.map((p) => p.goodput * 1.05)),
  );
  const gStep = niceStep(gMax, 6);
  const gTop = Math.ceil(gMax / gStep) * gStep;
  const yG = (v) => TOP + PANEL_H - (v / gTop) * PANEL_H;
  // ---- right: p99, log
  const pValues = series.flatMap((s) => s.points.map((p) => p.p99).filter((v) => v != null));
  const pMin = 10 ** Math.floor(Math.log10(Math.max(1, Math.min(10, ...pValues))));
  const pMax = Math.max(opts.timeoutMs * 2.5, ...pValues.map((v) => v * 1.3));
  const yP = (v) =>
    TOP + PANEL_H - ((Math.log10(v) - Math.log10(pMin)) / Math.log10(pMax / pMin)) * PANEL_H;

  const panels = [
    {
      left: LEFTS[0],
      title: 'Goodput (2xx responses per second)',
      y: yG,
      ticks: Array.from({ length: Math.round(gTop / gStep) + 1 }, (_, i) => i * gStep),
      tickLabel: (v) => fmt(v),
      value: (p) => p.goodput,
      refs: [
        { v: opts.capacity, label: `backend capacity ${opts.capacity}/s`, color: '#333' },
        { v: opts.goodputTarget, label: `target ≥ ${opts.goodputTarget}/s`, color: '#2a9d3a' },
      ],
      yLabel: 'req/s',
    },
    {
      left: LEFTS[1],
      title: '2xx latency, p99 (log scale)',
      y: yP,
      ticks: Array.from(
        { length: Math.floor(Math.log10(pMax / pMin)) + 1 },
        (_, i) => pMin * 10 ** i,
      ),
      tickLabel: (v) => (v >= 1000 ? `${v / 1000} s` : `${v} ms`),
      value: (p) => p.p99,
      refs: [
        { v: opts.p99TargetMs, label: `target < ${opts.p99TargetMs} ms`, color: '#2a9d3a' },
        { v: opts.timeoutMs, label: `client timeout ${opts.timeoutMs / 1000} s`, color: '#333' },
      ],
      yLabel: '',
    },
  ];

  for (const panel of panels) {
    const { left } = panel;
    const bottom = TOP + PANEL_H;
    out.push(
      `<text x="${left + PANEL_W / 2}" y="${TOP - 10}" text-anchor="middle" font-size="13" font-weight="bold">${esc(panel.title)}</text>`,
    );
    for (const t of panel.ticks) {
      const y = panel.y(t);
      out.push(
        `<line x1="${left}" y1="${y}" x2="${left + PANEL_W}" y2="${y}" stroke="#e4e4e4"/>`,
        `<text x="${left - 6}" y="${y + 4}" text-anchor="end" fill="#444">${esc(panel.tickLabel(t))}</text>`,
      );
    }
    for (const r of panel.refs) {
      const y = panel.y(r.v);
      out.push(
        `<line x1="${left}" y1="${y}" x2="${left + PANEL_W}" y2="${y}" stroke="${r.color}" stroke-width="1.2" stroke-dasharray="6 4"/>`,
      );
    }
    out.push(
      `<rect x="${left}" y="${TOP}" width="${PANEL_W}" height="${PANEL_H}" fill="none" stroke="#888"/>`,
    );
    xs.forEach((x, i) => {
      const px = xAt(left, x);
      out.push(
        `<line x1="${px}" y1="${bottom}" x2="${px}" y2="${bottom + 5}" stroke="#888"/>`,
        `<text x="${px}" y="${bottom + 19}" text-anchor="middle">${esc(opts.xLabels[i])}</text>`,
      );
    });
    out.push(
      `<text x="${left + PANEL_W / 2}" y="${bottom + 40}" text-anchor="middle" fill="#444">offered load (arrivals per second, open loop)</text>`,
    );
    if (panel.yLabel) {
      out.push(
        `<text transform="translate(${left - 52} ${TOP + PANEL_H / 2}) rotate(-90)" text-anchor="middle" fill="#444">${esc(panel.yLabel)}</text>`,
      );
    }
    const ink = []; // points along the data, to keep the labels off them
    for (const s of series) {
      const pts = s.points
        .filter((p) => panel.value(p) != null)
        .map((p) => [xAt(left, p.x), panel.y(Math.max(panel.value(p), 1e-9))]);
      for (let i = 0; i < pts.length; i++) {
        ink.push(pts[i]);
        if (i === 0) continue;
        const [[x0, y0], [x1, y1]] = [pts[i - 1], pts[i]];
        for (let k = 1; k < 40; k++)
          ink.push([x0 + ((x1 - x0) * k) / 40, y0 + ((y1 - y0) * k) / 40]);
      }
      if (pts.length > 1) {
        out.push(
          `<polyline points="${pts.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ')}" fill="none" stroke="${s.color}" stroke-width="2.5"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`,
        );
      }
      for (const [x, y] of pts) out.push(marker(s.shape, x, y, s.color));
      // A server with no 2xx at some load has no p99 there: say so on the chart.
      for (const p of s.points) {
        if (panel.value(p) == null) {
          out.push(
            `<text x="${xAt(left, p.x)}" y="${TOP + 14}" text-anchor="middle" fill="${s.color}" font-size="11">no 2xx</text>`,
          );
        }
      }
    }
    // Reference labels last, haloed, at whichever end of their line and on
    // whichever side of it keeps them farthest from the data.
    for (const r of panel.refs) {
      const y = panel.y(r.v);
      const width = r.label.length * 5.6;
      let best;
      for (const [anchor, baseline] of [
        ['end', y - 4],
        ['end', y + 13],
        ['start', y - 4],
        ['start', y + 13],
      ]) {
        const x0 = anchor === 'end' ? left + PANEL_W - 4 - width : left + 4;
        const box = [x0, baseline - 10, x0 + width, baseline + 2];
        const clearance = Math.min(
          ...ink.map(([px, py]) =>
            Math.hypot(
              Math.max(box[0] - px, 0, px - box[2]),
              Math.max(box[1] - py, 0, py - box[3]),
            ),
          ),
          Number.POSITIVE_INFINITY,
        );
        if (best === undefined || clearance > best.clearance + 0.5) {
          best = { anchor, baseline, clearance };
        }
      }
      out.push(
        `<text x="${best.anchor === 'end' ? left + PANEL_W - 4 : left + 4}" y="${best.baseline}" text-anchor="${best.anchor}" fill="${r.color}" font-size="11" stroke="#fff" stroke-width="3" paint-order="stroke">${esc(r.label)}</text>`,
      );
    }
  }
  if (opts.note) {
    out.push(
      `<text x="${W / 2}" y="${H - 30}" text-anchor="middle" fill="#666" font-size="11">${esc(opts.note)}</text>`,
    );
  }
  if (opts.footer) {
    out.push(
      `<text x="${W / 2}" y="${H - 12}" text-anchor="middle" fill="#666" font-size="11">${esc(opts.footer)}</text>`,
    );
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

const STYLE = {
  none: ['#d62728', 'circle', ''],
  'express-queue': ['#9467bd', 'diamond', '7 4'],
  doorman: ['#1f77b4', 'square', ''],
  'doorman-lifo': ['#2ca02c', 'triangle', '3 3'],
  guard: ['#ff7f0e', 'square', '2 2'],
};

/** The benchmark's plot from its results document (bench/results/overload.json). */
export function plotOverload(doc) {
  const { machine, config, rows, labels } = doc;
  const capacity = config.capacity;
  const present = Object.keys(STYLE).filter((v) => rows.some((r) => r.server === v));
  return overloadSvg(
    present.map((variant) => {
      const [color, shape, dash] = STYLE[variant];
      return {
        label: labels[variant],
        color,
        shape,
        dash,
        points: rows
          .filter((r) => r.server === variant)
          .map((r) => ({ x: r.offered, goodput: r.goodput, p99: r.ok.p99 })),
      };
    }),
    {
      title: 'Express under overload: a backend that thrashes past 10 concurrent calls',
      subtitle: `open-loop arrivals, ${config.duration} s per point; limiters: 10 running, 50 queued (doorman: queue timeout 500 ms)`,
      xs: config.multiples.map((m) => m * capacity),
      xLabels: config.multiples.map((m) => `${m}x (${m * capacity}/s)`),
      capacity,
      goodputTarget: 0.9 * capacity,
      p99TargetMs: 200,
      timeoutMs: config.clientTimeoutS * 1000,
      note: 'p99 over the requests answered; client timeouts (10 s) and requests unanswered when the load stopped are counted in the tables',
      footer: `${machine.cpus} × ${machine.cpu}, Node ${machine.node}, ${machine.date.slice(0, 10)}, commit ${machine.commit}, load average ${machine.loadAvgStart[0]} at start${config.quick ? ' (quick form)' : ''}`,
    },
  );
}
