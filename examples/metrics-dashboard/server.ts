import { Redis } from 'ioredis';
import { createApp } from './app.js';

const port = Number(process.env['PORT'] ?? 3000);
// With REDIS_URL, the instances started on it share 3 microphones.
const url = process.env['REDIS_URL'];
const redis = url ? new Redis(url) : undefined;
const { app } = createApp(redis === undefined ? {} : { redis });
const server = app.listen(port, '127.0.0.1', () => {
  const address = server.address();
  const actual = typeof address === 'object' && address !== null ? address.port : port;
  console.log(`metrics-dashboard listening on http://127.0.0.1:${actual}`);
  console.log(`metrics at http://127.0.0.1:${actual}/metrics; put load on it with: pnpm load`);
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    server.closeAllConnections();
    redis?.disconnect();
    server.close(() => process.exit(0));
  });
}
