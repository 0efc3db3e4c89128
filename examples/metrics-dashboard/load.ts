import { setTimeout as delay } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

export interface LoadOptions {
  /** The URL each client requests over and over. */
  url: string;
  /** Clients requesting at once. Default 14: more than 4 rooms and 8 places in the queue. */
  clients?: number;
  /** Stop after this long, in ms. Default 30 s. */
  durationMs?: number;
  /** Stop after this many requests in all. Default: no bound but the duration. */
  maxRequests?: number;
  /** A client turned away waits this long before it tries again, in ms. Default 100. */
  backoffMs?: number;
  /** Stops the load early. */
  signal?: AbortSignal;
}

export interface LoadReport {
  sent: number;
  byStatus: Record<number, number>;
  errors: number;
}

/**
 * Keeps `clients` requests in flight against `url` until the duration or the
 * request count runs out (or `signal` aborts), then reports what came back.
 * It always stops by itself.
 */
export async function runLoad(options: LoadOptions): Promise<LoadReport> {
  const clients = options.clients ?? 14;
  const deadline = performance.now() + (options.durationMs ?? 30_000);
  const maxRequests = options.maxRequests ?? Number.POSITIVE_INFINITY;
  const backoffMs = options.backoffMs ?? 100;
  const signal = options.signal;
  const report: LoadReport = { sent: 0, byStatus: {}, errors: 0 };
  const going = () => !signal?.aborted && performance.now() < deadline && report.sent < maxRequests;

  const client = async () => {
    while (going()) {
      report.sent++;
      try {
        const response = await fetch(options.url, signal === undefined ? {} : { signal });
        await response.arrayBuffer();
        report.byStatus[response.status] = (report.byStatus[response.status] ?? 0) + 1;
        if (response.status === 503 && going()) {
          await delay(backoffMs, undefined, signal === undefined ? {} : { signal });
        }
      } catch {
        if (!signal?.aborted) report.errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
  return report;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({
    options: {
      url: { type: 'string', default: 'http://127.0.0.1:3000/sing' },
      clients: { type: 'string', default: '14' },
      seconds: { type: 'string', default: '30' },
      requests: { type: 'string' },
    },
  });
  const report = await runLoad({
    url: values.url,
    clients: Number(values.clients),
    durationMs: Number(values.seconds) * 1000,
    ...(values.requests === undefined ? {} : { maxRequests: Number(values.requests) }),
  });
  console.log(JSON.stringify(report));
}
