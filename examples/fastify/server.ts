import { createApp } from './app.js';

const app = createApp();
const port = Number(process.env.PORT ?? 3000);
await app.listen({ port, host: '127.0.0.1' });
const address = app.server.address();
const actual = typeof address === 'object' && address !== null ? address.port : port;
console.log(`fastify example listening on http://127.0.0.1:${actual}`);
console.log('try: curl -i http://127.0.0.1:%d/report  (3 at once: the third gets 503)', actual);
