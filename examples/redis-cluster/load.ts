// Puts load on the running cluster and shows what each worker's /metrics
// says, and their sum: the cluster's picture that PromQL's sum() gives.
//
//   pnpm load [REQUESTS]   BASE (http://127.0.0.1:3000)  METRICS (the four default metrics URLs)
import { sample } from './metrics-text.js';

const base = process.env['BASE'] ?? 'http://127.0.0.1:3000';
const metricsUrls = (
  process.env['METRICS'] ??
  [9101, 9102, 9103, 9104].map((p) => `http://127.0.0.1:${p}/metrics`).join(' ')
).split(/[\s,]+/);
const requests = Number(process.argv[2] ?? 40);

const started = performance.now();
const statuses = await Promise.all(
  Array.from({ length: requests }, async () => (await fetch(`${base}/work`)).status),
);
const counts = new Map<number, number>();
for (const s of statuses) counts.set(s, (counts.get(s) ?? 0) + 1);
console.log(
  `${requests} requests in ${Math.round(performance.now() - started)} ms: ${[...counts].map(([s, n]) => `${n} x ${s}`).join(', ')}`,
);

const names = [
  'doorman_permits_limit',
  'doorman_permits_in_use',
  'doorman_waiters',
  'doorman_acquired_total',
  'doorman_rejected_total',
];
const totals = new Map<string, number>();
for (const url of metricsUrls) {
  const text = await (await fetch(url)).text();
  const values = names.map((n) => [n, sample(text, n, { limiter: 'api' })] as const);
  console.log(`${url}: ${values.map(([n, v]) => `${n.replace('doorman_', '')}=${v}`).join(' ')}`);
  for (const [n, v] of values) totals.set(n, (totals.get(n) ?? 0) + v);
}
console.log(
  `sum over workers: ${[...totals].map(([n, v]) => `${n.replace('doorman_', '')}=${v}`).join(' ')}`,
);
