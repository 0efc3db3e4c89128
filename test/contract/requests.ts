import { type Call, call, type Reply } from '../kit/index.js';
import type { Built } from './subject.js';

/** A GET labelled `id` (the `x-id` header handlers enter their stage with). */
export function send(
  built: Built,
  path: string,
  id: string,
  headers: Record<string, string> = {},
): Call {
  return call(built.port, path, { headers: { 'x-id': id, ...headers } });
}

/** The parts of a rejection a client relies on. */
export function rejection(reply: Reply) {
  return {
    status: reply.status,
    retryAfter: reply.headers['retry-after'],
    names: /QUEUE_FULL|QUEUE_TIMEOUT|CLOSED/.exec(reply.body)?.[0],
    short: reply.body.length < 200,
  };
}

/** What a default rejection with `code` looks like. */
export function rejected(code: string, status = 503, retryAfter = '1') {
  return { status, retryAfter, names: code, short: true };
}
