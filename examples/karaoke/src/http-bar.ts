// The karaoke bar over HTTP: guests are HTTP clients (node:http to 127.0.0.1),
// the rooms are the permits of the server's doorman. A round lets `guests`
// clients arrive at once; the events of the timeline come from both sides:
// the server reports who waits, starts singing and finishes, the guests
// report the answers they got (503 with Retry-After when turned away).
// The events are the same BarEvents as the semaphore-only bar's, so
// timeline.ts prints both alike.
import { Agent, request } from 'node:http';
import type { BarEvent, BarSummary, GuestEvent } from './bar.js';
import type { DoorPolicy, KaraokeServer } from './server.js';

export interface RoundOptions extends DoorPolicy {
  /** Guests arriving at once. */
  guests: number;
}

export interface RoundSummary extends BarSummary {
  /** How many answers of each HTTP status the guests got. */
  statuses: Record<number, number>;
  /** The distinct `Retry-After` values of the rejections. */
  retryAfter: string[];
}

/**
 * Opens the door for one round, sends every guest in (one `GET /sing` each,
 * all at once: the server lets them reach the doorman together once the last
 * has come), and resolves when the last guest has an answer.
 */
export async function playRound(
  bar: KaraokeServer,
  options: RoundOptions,
  onEvent: (event: BarEvent) => void,
): Promise<RoundSummary> {
  const { speed } = bar.options;
  // One connection per guest, opened before the round (GET /metrics passes
  // the doorman), so that the round's clock measures the bar and not the
  // TCP handshakes, and the guests reach the door together.
  const agent = new Agent({ keepAlive: true });
  await Promise.all(Array.from({ length: options.guests }, () => get(`${bar.url}/metrics`, agent)));
  const door = bar.openDoor(options);
  // Bar time 0 is when the bar opens to the gathered guests.
  let opened = performance.now();
  const clock = () => (performance.now() - opened) * speed;
  const openNow = bar.gather(options.guests, () => {
    opened = performance.now();
  });
  const summary: RoundSummary = {
    guests: options.guests,
    sang: 0,
    turnedAway: 0,
    gaveUp: 0,
    mostAtOnce: 0,
    totalMs: 0,
    meanWaitMs: 0,
    statuses: {},
    retryAfter: [],
  };
  const emit = (event: GuestEvent) => {
    const { rooms, waiting } = bar.state();
    onEvent({ ...event, at: clock(), rooms, waiting } as BarEvent);
  };

  // The mean wait comes from the limiter's own wait hook, as in the semaphore-only bar.
  let waits = 0;
  let waited = 0;
  const stopWaits = door.limiter.onWait((realMs) => {
    waits++;
    waited += realMs * speed;
  });
  const stopListening = bar.listen((event, state) => {
    if (event.type === 'starts') {
      summary.sang++;
      const singing = state.rooms.filter((guest) => guest !== undefined).length;
      summary.mostAtOnce = Math.max(summary.mostAtOnce, singing);
    }
    onEvent({ ...event, at: clock(), ...state });
  });

  async function guest(): Promise<void> {
    const left = performance.now();
    const response = await get(`${bar.url}/sing`, agent);
    // The server numbers the guests in the order they reach its door.
    const n = Number(response.headers['x-guest']);
    summary.statuses[response.status] = (summary.statuses[response.status] ?? 0) + 1;
    if (response.status === 200) return; // the server has told of the song
    const code = /\(([A-Z_]+)\)/.exec(response.body)?.[1] ?? `HTTP_${response.status}`;
    const header = response.headers['retry-after'];
    const retryAfter = Array.isArray(header) ? header[0] : header;
    if (retryAfter !== undefined && !summary.retryAfter.includes(retryAfter)) {
      summary.retryAfter.push(retryAfter);
    }
    const answer = { status: response.status, ...(retryAfter === undefined ? {} : { retryAfter }) };
    if (code === 'QUEUE_TIMEOUT') {
      summary.gaveUp++;
      emit({
        type: 'gives-up',
        guest: n,
        code,
        waitedMs: (performance.now() - left) * speed,
        ...answer,
      });
    } else {
      summary.turnedAway++;
      emit({ type: 'turned-away', guest: n, code, ...answer });
    }
  }

  try {
    // Everyone at once.
    await Promise.all(Array.from({ length: options.guests }, guest));
  } finally {
    openNow(); // only if a guest never came: let the others in
    agent.destroy();
    stopListening();
    stopWaits();
    bar.endRound();
  }
  summary.totalMs = clock();
  summary.meanWaitMs = waits === 0 ? 0 : waited / waits;
  return summary;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One GET, its status, headers and text body. */
function get(url: string, agent: Agent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    request(url, { agent }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        body += chunk;
      });
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body }),
      );
      response.on('error', reject);
    })
      .on('error', reject)
      .end();
  });
}

export interface ScenarioOptions {
  /** Guests in each round. */
  guests: number;
  /** Places in the line in round 2 (round 1 has room for everyone). */
  line: number;
  /** How long a guest waits before giving up, in ms of bar time; default: as long as it takes. */
  patienceMs?: number;
}

/** The two rounds of the demo: a line for everyone, then a short line. */
export function rounds(options: ScenarioOptions): [RoundOptions, RoundOptions] {
  const patience = options.patienceMs === undefined ? {} : { patienceMs: options.patienceMs };
  return [
    { round: 1, guests: options.guests, line: Math.max(100, options.guests), ...patience },
    { round: 2, guests: options.guests, line: options.line, ...patience },
  ];
}

/**
 * Keeps the guests coming, for `pnpm demo --serve` and the live page: both
 * rounds, a pause, both rounds again, until stopped. POST /round (the page's
 * button) cuts the pause short.
 */
export class Replays {
  private stopped = false;
  private playing = false;
  private wake: (() => void) | undefined;
  private readonly done: Promise<void>;

  constructor(
    private readonly bar: KaraokeServer,
    private readonly options: ScenarioOptions & { pauseMs: number },
    private readonly report: (summaries: RoundSummary[]) => void = () => {},
    private readonly onError: (error: unknown) => void = () => {},
  ) {
    bar.onRoundRequest = () => {
      if (this.stopped) return { started: false, message: 'the bar is closing' };
      if (this.playing) return { started: false, message: 'guests are already arriving' };
      this.wake?.();
      return { started: true, message: 'the next guests are on their way' };
    };
    this.done = this.loop();
  }

  /**
   * Ends the replays after the round now playing (closing the server cuts it
   * short); resolves when it is over. Never rejects.
   */
  stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    return this.done;
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      this.playing = true;
      const summaries: RoundSummary[] = [];
      try {
        for (const round of rounds(this.options)) {
          if (this.stopped) break;
          summaries.push(await playRound(this.bar, round, () => {}));
        }
      } catch (error) {
        // A guest who got no answer: the server is closing, or someone played with it.
        if (!this.stopped) this.onError(error);
      } finally {
        this.playing = false;
      }
      if (this.stopped) break;
      if (summaries.length > 0) this.report(summaries);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.options.pauseMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }
}
