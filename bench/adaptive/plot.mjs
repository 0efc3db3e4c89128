// The adaptive benchmark's plot as a self-contained SVG, over time: the
// backend's best concurrency and the limit each server held (top), and the
// goodput each server got next to the backend's best (bottom).
import { esc, niceStep } from '../overload/plot.mjs';

const W = 980;
const H = 640;
const LEFT = 80;
const PANEL_W = 860;
const PANEL_H = 210;
const TOPS = [110, 390];

const STYLE = {
  none: ['#888888', '2 3'],
  'fixed-10': ['#1f77b4', '6 3'],
  'fixed-50': ['#9467bd', '6 3'],
  gradient2: ['#d62728', ''],
  aimd: ['#ff7f0e', ''],
  vegas: ['#2ca02c', ''],
};

function panel(out, top, { title, yLabel, yMax, xMax, lines }) {
  const x = (t) => LEFT + (t / xMax) * PANEL_W;
  const y = (v) => top + PANEL_H - (Math.min(v, yMax) / yMax) * PANEL_H;
  out.push(
    `<text x="${LEFT}" y="${top - 12}" font-weight="bold">${esc(title)}</text>`,
    `<rect x="${LEFT}" y="${top}" width="${PANEL_W}" height="${PANEL_H}" fill="none" stroke="#ccc"/>`,
  );
  const yStep = niceStep(yMax, 5);
  for (let v = 0; v <= yMax + 1e-9; v += yStep) {
    out.push(
      `<line x1="${LEFT}" y1="${y(v)}" x2="${LEFT + PANEL_W}" y2="${y(v)}" stroke="#eee"/>`,
      `<text x="${LEFT - 6}" y="${y(v) + 4}" text-anchor="end">${Number(v.toFixed(1))}</text>`,
    );
  }
  for (let s = 0; s <= xMax / 1000 + 1e-9; s += niceStep(xMax / 1000, 10)) {
    out.push(`<text x="${x(s * 1000)}" y="${top + PANEL_H + 16}" text-anchor="middle">${s}</text>`);
  }
  out.push(
    `<text x="${LEFT + PANEL_W / 2}" y="${top + PANEL_H + 34}" text-anchor="middle" fill="#555">seconds</text>`,
    `<text transform="translate(${LEFT - 50} ${top + PANEL_H / 2}) rotate(-90)" text-anchor="middle" fill="#555">${esc(yLabel)}</text>`,
  );
  for (const line of lines) {
    if (line.points.length === 0) continue;
    const d = line.points
      .map(([t, v], i) => `${i === 0 ? 'M' : 'L'}${x(t).toFixed(1)} ${y(v).toFixed(1)}`)
      .join('');
    out.push(
      `<path d="${d}" fill="none" stroke="${line.color}" stroke-width="${line.width ?? 1.8}"${line.dash ? ` stroke-dasharray="${line.dash}"` : ''}/>`,
    );
  }
}

/** Steps: a value held until the next point. */
function stepped(points) {
  const out = [];
  for (let i = 0; i < points.length; i++) {
    const [t, v] = points[i];
    if (i > 0) out.push([t, points[i - 1][1]]);
    out.push([t, v]);
  }
  return out;
}

export function plotAdaptive(doc) {
  const { machine, config, rows, labels } = doc;
  const xMax = config.capacities.length * config.phaseMs;
  const capacityLine = [];
  const bestLine = [];
  config.capacities.forEach((c, i) => {
    capacityLine.push([i * config.phaseMs, c], [(i + 1) * config.phaseMs, c]);
    bestLine.push(
      [i * config.phaseMs, (c / config.baseMs) * 1000],
      [(i + 1) * config.phaseMs, (c / config.baseMs) * 1000],
    );
  });
  const limited = rows.filter((r) => r.server !== 'none');
  const limitMax = Math.max(...config.capacities) * 2.4;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${W / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">A limit that follows the backend: its best concurrency steps ${config.capacities.join(' → ')}</text>`,
    `<text x="${W / 2}" y="43" text-anchor="middle" fill="#555">${esc(`Express, open-loop ${config.rate} requests/s, service 20 ms × max(1, (in flight / C)²); queue 50, timeout 250 ms`)}</text>`,
  ];
  // Legend
  const legend = [
    ['backend’s best', '#000', '4 3'],
    ...rows.map((r) => [labels[r.server], ...STYLE[r.server]]),
  ];
  let lx = 40;
  for (const [label, color, dash] of legend) {
    out.push(
      `<line x1="${lx}" y1="66" x2="${lx + 26}" y2="66" stroke="${color}" stroke-width="2.5"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`,
      `<text x="${lx + 32}" y="70">${esc(label)}</text>`,
    );
    lx += 32 + label.length * 6.2 + 18;
  }
  panel(out, TOPS[0], {
    title: 'Limit held (sampled every 50 ms) and the backend’s best concurrency',
    yLabel: 'concurrency',
    yMax: limitMax,
    xMax,
    lines: [
      { points: capacityLine, color: '#000', dash: '4 3', width: 1.5 },
      ...limited.map((r) => ({
        points: stepped(r.trace.map(([t, limit]) => [t, limit])),
        color: STYLE[r.server][0],
        dash: STYLE[r.server][1],
      })),
    ],
  });
  panel(out, TOPS[1], {
    title: 'Goodput: 2xx answers per second (500 ms buckets) and the backend’s best',
    yLabel: 'answers / s',
    yMax: Math.max(...bestLine.map(([, v]) => v)) * 1.15,
    xMax,
    lines: [
      { points: bestLine, color: '#000', dash: '4 3', width: 1.5 },
      ...rows.map((r) => ({
        points: r.buckets.map(([t, v]) => [t + 250, v]),
        color: STYLE[r.server][0],
        dash: STYLE[r.server][1],
      })),
    ],
  });
  out.push(
    `<text x="${W / 2}" y="${H - 8}" text-anchor="middle" fill="#777" font-size="11">${esc(`${machine.cpus} × ${machine.cpu}, Node ${machine.node}, ${machine.date.slice(0, 10)}, commit ${machine.commit}, load average ${machine.loadAvgStart[0]} at start${config.quick ? ' (quick form)' : ''}`)}</text>`,
    '</svg>',
  );
  return out.join('\n');
}
