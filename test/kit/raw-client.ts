import net from 'node:net';
import { deferred } from './deferred.js';

/** The bytes of one HTTP/1.1 GET, for writing several on one socket (pipelining). */
export function rawGet(path: string, headers: Record<string, string> = {}): string {
  const lines = [`GET ${path} HTTP/1.1`, 'Host: doorman.test'];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/**
 * A bare TCP connection speaking HTTP/1.1 by hand: for what a well-behaved
 * client never does, such as pipelining several requests in one write and
 * dying with their responses still due, or a half-open socket.
 */
export class RawConnection {
  /** Everything the server sent, as text. */
  data = '';
  /** The server ended its side. */
  ended = false;
  /** The socket has closed (either side). */
  closed = false;

  private constructor(readonly socket: net.Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.data += chunk;
    });
    socket.on('end', () => {
      this.ended = true;
    });
    socket.on('close', () => {
      this.closed = true;
    });
    // A reset from the server is one of the outcomes the tests look at, not a failure.
    socket.on('error', () => {});
  }

  /** Connects to 127.0.0.1:`port` and resolves once the connection is up. */
  static async open(port: number): Promise<RawConnection> {
    const socket = net.connect({ host: '127.0.0.1', port });
    const up = deferred();
    socket.once('connect', () => up.resolve());
    socket.once('error', (error) => up.reject(error));
    await up.promise;
    return new RawConnection(socket);
  }

  /** Writes these requests in one write: the server reads them as a pipeline. */
  pipeline(...requests: string[]): void {
    this.socket.write(requests.join(''));
  }

  /** The status codes of the final (non-1xx) responses received so far, in order. */
  statuses(): number[] {
    return [...this.data.matchAll(/HTTP\/1\.1 (\d{3}) /g)]
      .map((m) => Number(m[1]))
      .filter((status) => status >= 200);
  }

  /** Ends the client's side (half-open: the server may still answer). */
  end(): void {
    this.socket.end();
  }

  /** Drops the connection at once, with whatever is still due. */
  destroy(): void {
    this.socket.destroy();
  }
}
