import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { guard } from '@doorman/http';
import { createApp } from './app.js';
import { createUpstream } from './upstream.js';

const upstream = createUpstream(Number(process.env.UPSTREAM_MS ?? 1000));
upstream.server.listen(0, '127.0.0.1');
await new Promise((resolve) => upstream.server.once('listening', resolve));
const upstreamUrl = `http://127.0.0.1:${(upstream.server.address() as AddressInfo).port}`;

// The guard: 2 requests in the app at once, 2 more wait; the rest are refused
// with writeHead + end before Express allocates anything for them.
const limited = guard(
  {
    limit: 2,
    maxQueue: 2,
    name: 'app',
    skip: (req) => req.url === '/health' || req.url === '/stats',
  },
  createApp(upstreamUrl, (): object => ({
    guard: { inUse: limited.limiter.inUse, waiting: limited.limiter.waiting },
    upstream: upstream.stats,
  })),
);

const server = http.createServer(limited);
server.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  console.log(`guard example listening on http://127.0.0.1:${port}`);
  console.log('try: curl -i http://127.0.0.1:%d/quote  (5 at once: the fifth gets 503)', port);
});
