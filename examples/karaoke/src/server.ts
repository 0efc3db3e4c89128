// The karaoke bar as an HTTP server. Express with one doorman in front:
//
//   app.use(concurrencyLimit({ limit: 4, maxQueue, retryAfter, name: 'karaoke', skip }))
//   app.get('/sing', ...)     a guest takes a room for one song
//   app.get('/metrics', ...)  Prometheus text from a prom-client Registry (registerMetrics)
//   app.get('/', ...)         the live page, which polls /metrics
//   app.post('/round', ...)   asks for the next round of guests (with `pnpm demo --serve`)
//
// Each round of the demo has its own door policy (how long the line may be),
// so the server builds a fresh middleware per round and swaps it in, under
// the same metrics name. The server also reports what it sees of each guest
// (arrives, waits, starts singing, finishes) so the demo can print a timeline.
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import {
  type ConcurrencyLimitMiddleware,
  concurrencyLimit,
  requestSignal,
  type Semaphore,
} from '@doorman/express';
import { registerMetrics, type UnregisterMetrics } from '@doorman/prometheus';
import express, { type NextFunction, type Request, type Response } from 'express';
import { Gauge, Registry } from 'prom-client';
import type { GuestEvent } from './bar.js';

export interface KaraokeServerOptions {
  /** Rooms: the limit of every door. */
  rooms: number;
  /** How long one song lasts, in ms of bar time. */
  songMs: number;
  /** How many times faster than bar time the clock runs (1 = real time). */
  speed: number;
  /** Port on 127.0.0.1; default 0, any free port. */
  port?: number;
}

/** How the door works during one round. */
export interface DoorPolicy {
  /** The round's number, shown on the live page (`karaoke_round`). */
  round: number;
  /** Most guests waiting in line: the middleware's `maxQueue`. */
  line: number;
  /** How long a guest waits before giving up, in ms of bar time; default: as long as it takes. */
  patienceMs?: number;
}

/** The bar as the server sees it right after an event. */
export interface BarState {
  /** Who is in each room (undefined: an empty room). */
  rooms: Array<number | undefined>;
  /** Guests waiting at the door: the limiter's `waiting`. */
  waiting: number;
}

/** The events the server itself sees; a guest's answer (200, 503) is seen by the guest. */
export type ServerEvent = Extract<GuestEvent, { type: 'waits' | 'starts' | 'finishes' }>;

export type ServerListener = (event: ServerEvent, state: BarState) => void;

/** What POST /round answers: whether a round of guests is on its way. */
export type RoundRequest = () => { started: boolean; message: string };

/** Paths the doorman lets through without a room: the page, the metrics, the round button. */
const unlimited: ReadonlySet<string> = new Set(['/', '/metrics', '/round']);

const page = readFileSync(new URL('./page.html', import.meta.url), 'utf8');

/** The page may load nothing from elsewhere: everything it needs is inline. */
const pagePolicy =
  "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'";

export class KaraokeServer {
  readonly registry = new Registry();
  /** Asked by POST /round; unset, the server answers that no rounds are on offer. */
  onRoundRequest: RoundRequest | undefined;
  private readonly rooms: Array<number | undefined>;
  private readonly listeners = new Set<ServerListener>();
  private readonly roundGauge: Gauge;
  private readonly lineGauge: Gauge;
  private readonly doorGauge: Gauge;
  private doors = 0;
  private currentDoor: ConcurrencyLimitMiddleware<Semaphore>;
  private unregister: UnregisterMetrics;
  private server: Server | undefined;
  private address = '';
  /** Guests who reached the door this round: the next one gets the next number. */
  private arrivals = 0;
  /** Guests held outside until the bar opens (see `gather`). */
  private gathering: { expected: number; held: Array<() => void>; onOpen: () => void } | undefined;

  constructor(readonly options: KaraokeServerOptions) {
    this.rooms = Array.from({ length: options.rooms }, () => undefined);
    this.roundGauge = new Gauge({
      name: 'karaoke_round',
      help: 'The round of guests now at the bar (0: between rounds).',
      registers: [this.registry],
    });
    this.lineGauge = new Gauge({
      name: 'karaoke_line_places',
      help: 'Places in the line at the door this round: the middleware maxQueue.',
      registers: [this.registry],
    });
    // A new door starts its counters from 0: the page takes a new number here
    // as a counter reset, as Prometheus's rate() takes a counter going down.
    this.doorGauge = new Gauge({
      name: 'karaoke_door',
      help: 'Serial number of the door (the middleware) now up; a new one each round.',
      registers: [this.registry],
    });
    this.currentDoor = this.buildDoor({ round: 0, line: 100 });
    this.unregister = registerMetrics(this.currentDoor, { registry: this.registry });
    this.lineGauge.set(100);
  }

  /** The base URL, `http://127.0.0.1:<port>`, once listening. */
  get url(): string {
    return this.address;
  }

  /** The middleware at the door this round; its `.limiter` holds the rooms. */
  get door(): ConcurrencyLimitMiddleware<Semaphore> {
    return this.currentDoor;
  }

  /** A copy of the rooms and the line right now. */
  state(): BarState {
    return { rooms: [...this.rooms], waiting: this.currentDoor.limiter.waiting };
  }

  /** Puts up a new door for a round: a fresh middleware, reported under the same metrics name. */
  openDoor(policy: DoorPolicy): ConcurrencyLimitMiddleware<Semaphore> {
    const door = this.buildDoor(policy);
    this.unregister();
    this.currentDoor = door;
    this.arrivals = 0;
    this.unregister = registerMetrics(door, { registry: this.registry });
    this.roundGauge.set(policy.round);
    this.lineGauge.set(Number.isFinite(policy.line) ? policy.line : -1);
    this.doorGauge.set(++this.doors);
    return door;
  }

  /**
   * Holds the next `guests` requests to /sing outside, and when the last of
   * them has come, opens the bar: calls `onOpen`, then lets them all reach
   * the doorman in one go, in the order they came. So "20 guests arrive at
   * once" holds however the requests trickle in: the doorman sees one burst,
   * and the round tells the same story on a slow machine as on a fast one.
   * Returns a function that opens the bar at once, with whoever is there.
   */
  gather(guests: number, onOpen: () => void): () => void {
    const gathering = { expected: guests, held: [] as Array<() => void>, onOpen };
    this.gathering = gathering;
    return () => {
      if (this.gathering === gathering) this.open();
    };
  }

  private open(): void {
    const gathering = this.gathering;
    if (gathering === undefined) return;
    this.gathering = undefined;
    gathering.onOpen();
    for (const enter of gathering.held) enter();
  }

  /** The round is over: the live page shows "between rounds". The door stays up. */
  endRound(): void {
    this.roundGauge.set(0);
  }

  /** Hears what the server sees of each guest; returns the function that stops listening. */
  listen(listener: ServerListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Listens on 127.0.0.1 (on `port`, else the one given at construction, else any free one). */
  async start(port = this.options.port ?? 0): Promise<string> {
    const server = createServer(this.app());
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    this.server = server;
    this.address = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this.address;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    const closed = once(server, 'close');
    server.close();
    server.closeAllConnections();
    await closed;
  }

  private buildDoor(policy: DoorPolicy): ConcurrencyLimitMiddleware<Semaphore> {
    const { rooms, songMs, speed } = this.options;
    return concurrencyLimit({
      limit: rooms,
      maxQueue: policy.line,
      // Guests wait as long as it takes unless told otherwise.
      queueTimeoutMs:
        policy.patienceMs === undefined ? Number.POSITIVE_INFINITY : policy.patienceMs / speed,
      // Come back after about one song, in real seconds (HTTP's clock, not the bar's).
      retryAfter: Math.max(1, Math.round(songMs / speed / 1000)),
      name: 'karaoke',
      skip: (req) => unlimited.has(req.path),
    });
  }

  private emit(event: ServerEvent): void {
    const state = this.state();
    for (const listener of this.listeners) listener(event, state);
  }

  private app(): express.Express {
    const { songMs, speed } = this.options;
    const app = express();
    app.disable('x-powered-by');

    // The doorman of the current round. The wrapper numbers the guests in
    // the order they come (each learns its number from the X-Guest header,
    // also on a 503), holds them outside while a round gathers, and watches
    // the door for the timeline: a request that joined the line made
    // `waiting` grow.
    app.use((req, res, next) => {
      if (req.path !== '/sing') {
        this.currentDoor(req, res, next);
        return;
      }
      const guest = ++this.arrivals;
      res.locals['guest'] = guest;
      res.setHeader('X-Guest', String(guest));
      const enter = () => {
        const door = this.currentDoor;
        res.locals['door'] = door;
        res.locals['arrived'] = performance.now();
        const before = door.limiter.waiting;
        door(req, res, next);
        if (door.limiter.waiting > before) this.emit({ type: 'waits', guest });
      };
      const gathering = this.gathering;
      if (gathering === undefined) {
        enter();
        return;
      }
      gathering.held.push(enter);
      if (gathering.held.length >= gathering.expected) this.open();
    });

    // A song holds its room until it is over, also for a guest who hangs up
    // mid-song: `wrap` extends the door's hold until the handler settles, so
    // the next guest never walks into a room still being cleared.
    const sing = async (req: Request, res: Response): Promise<void> => {
      const guest = res.locals['guest'] as number;
      const room = this.rooms.indexOf(undefined);
      // The doorman admits at most `rooms` guests, so a room is always free here.
      if (room < 0) throw new Error(`guest ${guest} was admitted but every room is taken`);
      this.rooms[room] = guest;
      const waitedMs = (performance.now() - (res.locals['arrived'] as number)) * speed;
      this.emit({ type: 'starts', guest, room: room + 1, waitedMs });
      // A guest who hangs up mid-song stops singing at once.
      const left = requestSignal(req);
      try {
        await delay(songMs / speed, undefined, { signal: left });
      } catch {
        // gone: the room is free below
      }
      this.rooms[room] = undefined;
      this.emit({ type: 'finishes', guest, room: room + 1 });
      if (!left.aborted) res.json({ guest, room: room + 1, sangMs: songMs });
    };
    app.get('/sing', (req: Request, res: Response, next: NextFunction) => {
      (res.locals['door'] as ConcurrencyLimitMiddleware).wrap(sing)(req, res, next);
    });

    app.get('/metrics', async (_req, res) => {
      res.set('Cache-Control', 'no-store');
      res.type(this.registry.contentType).send(await this.registry.metrics());
    });

    app.get('/', (_req, res) => {
      res.set('Cache-Control', 'no-store');
      res.set('Content-Security-Policy', pagePolicy);
      res.type('html').send(page);
    });

    app.post('/round', (_req, res) => {
      const answer = this.onRoundRequest?.() ?? {
        started: false,
        message: 'no rounds on offer: start the bar with `pnpm demo --serve`',
      };
      res.status(answer.started ? 202 : 409).json(answer);
    });

    return app;
  }
}
