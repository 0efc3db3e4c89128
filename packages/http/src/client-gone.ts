import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Whether the client is gone already: its response closed, or its request's
 * socket is dead. A pipelined request behind others has no socket on its
 * response yet, so only its request can tell.
 */
export function clientGone(req: IncomingMessage, res: ServerResponse): boolean {
  if (res.closed || res.destroyed) return true;
  const socket = req.socket as Socket | null;
  return socket === null || socket.destroyed;
}

/**
 * How a request's end is seen. Node emits `close` on a response when it
 * finishes or its socket closes, except for a pipelined response still
 * waiting for the socket: when the connection dies, Node destroys its request
 * instead and the response never says anything. So the request's own `close`
 * also counts when its socket is dead. A request whose body was read before
 * its response got the socket has closed already, cleanly: for that rare case
 * `watchSocket` watches the socket itself until the response closes.
 */
export function socketDead(req: IncomingMessage): boolean {
  const socket = req.socket as Socket | null;
  return socket === null || socket.destroyed;
}

/** Whether a response is still waiting behind others on a pipelined connection. */
export function waitsForSocket(res: ServerResponse): boolean {
  return res.socket === null && !res.writableFinished;
}

/** Calls `ended` when the socket closes, unless the response closes first. */
export function watchSocket(socket: Socket, res: ServerResponse, ended: () => void): void {
  const onClose = (): void => {
    res.removeListener('close', onResponseClose);
    ended();
  };
  const onResponseClose = (): void => {
    socket.removeListener('close', onClose);
  };
  socket.once('close', onClose);
  res.once('close', onResponseClose);
}
