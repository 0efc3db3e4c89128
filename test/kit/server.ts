import http, { type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Listening {
  server: Server;
  port: number;
  /** Hangs up every connection and closes the server. */
  close(): Promise<void>;
}

/** Serves `listener` on an ephemeral port of 127.0.0.1. */
export function listen(listener: RequestListener): Promise<Listening> {
  return listening(http.createServer(listener));
}

/** Starts `server` (already built) on an ephemeral port of 127.0.0.1. */
export function listening(server: Server): Promise<Listening> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve({
        server,
        port: (server.address() as AddressInfo).port,
        close: () => closeServer(server),
      });
    });
  });
}

/** Hangs up every connection of `server` and waits for it to close. */
export function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  if (!server.listening) return Promise.resolve();
  return new Promise<void>((resolve) => server.close(() => resolve()));
}
