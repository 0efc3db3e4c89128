import http, { type Server } from 'node:http';

/** What the backend saw: calls started, answered, and abandoned by their caller. */
export interface UpstreamStats {
  started: number;
  answered: number;
  cancelled: number;
}

/**
 * A slow backend: answers `/quote?ms=N` after N ms (default `defaultMs`),
 * unless its caller hangs up first, which it counts as cancelled.
 */
export function createUpstream(defaultMs: number): { server: Server; stats: UpstreamStats } {
  const stats: UpstreamStats = { started: 0, answered: 0, cancelled: 0 };
  const server = http.createServer((req, res) => {
    const ms = Number(
      new URL(req.url ?? '/', 'http://upstream').searchParams.get('ms') ?? defaultMs,
    );
    stats.started++;
    const timer = setTimeout(() => {
      stats.answered++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ price: 42 }));
    }, ms);
    res.on('close', () => {
      if (res.writableFinished) return;
      clearTimeout(timer);
      stats.cancelled++;
    });
  });
  return { server, stats };
}
