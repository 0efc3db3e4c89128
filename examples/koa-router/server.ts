import { createApp } from './app.js';

const port = Number(process.env.PORT ?? 3000);
const server = createApp().listen(port, '127.0.0.1', () => {
  const address = server.address();
  const actual = typeof address === 'object' && address !== null ? address.port : port;
  console.log(`koa-router listening on http://127.0.0.1:${actual}`);
  console.log(
    'try: curl -i http://127.0.0.1:%d/export  (run it twice at once: the second gets 429)',
    actual,
  );
});
