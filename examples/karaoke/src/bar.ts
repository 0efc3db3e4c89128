// The karaoke bar, played with a Semaphore: one permit per room. Guests who
// find a free room sing at once; the others wait at the door in line (FIFO)
// and walk in the moment a room frees up; with a bounded line or a limited
// patience, some are turned away or give up. Every step is reported as a
// BarEvent, so the same bar can be printed (timeline.ts) or checked by a
// test. `http-bar.ts` plays the same story over HTTP and reports the same events.
import { isDoormanError, type Permit, Semaphore } from '@doorman/semaphore';

export interface BarOptions {
  /** Guests arriving at the door. */
  guests: number;
  /** Rooms, the semaphore's limit. */
  rooms: number;
  /** How long one song lasts, in ms of bar time. */
  songMs: number;
  /** How many times faster than bar time the clock runs (1 = real time). */
  speed: number;
  /** Longest line at the door (the semaphore's `maxQueue`); default unbounded. */
  line?: number;
  /** How long a guest waits before giving up, in ms of bar time; default forever. */
  patienceMs?: number;
}

interface EventBase {
  /** Bar time since opening, in ms. */
  at: number;
  guest: number;
  /** Who is in each room right after the event (undefined: empty room). */
  rooms: ReadonlyArray<number | undefined>;
  /** Guests waiting at the door right after the event (`sem.waiting`). */
  waiting: number;
}

export type BarEvent =
  | (EventBase & { type: 'waits' })
  | (EventBase & { type: 'starts'; room: number; waitedMs: number })
  | (EventBase & { type: 'finishes'; room: number })
  | (EventBase & { type: 'turned-away'; code: string } & HttpAnswer)
  | (EventBase & { type: 'gives-up'; code: string; waitedMs: number } & HttpAnswer);

/** What a guest turned away over HTTP was told (absent when the bar runs without HTTP). */
export interface HttpAnswer {
  /** The response status, 503. */
  status?: number;
  /** The response's `Retry-After` header, in seconds. */
  retryAfter?: string;
}

/** An event as a guest reports it; the bar adds the time, the rooms and the line. */
export type WithoutBarState<E> = E extends BarEvent ? Omit<E, 'at' | 'rooms' | 'waiting'> : never;
export type GuestEvent = WithoutBarState<BarEvent>;

export interface BarSummary {
  guests: number;
  sang: number;
  turnedAway: number;
  gaveUp: number;
  /** Most guests singing at the same moment. */
  mostAtOnce: number;
  /** Bar time from opening until the last guest left, in ms. */
  totalMs: number;
  /** Mean wait of the guests who sang, from the semaphore's wait hook, in ms of bar time. */
  meanWaitMs: number;
}

/** Opens the bar, lets every guest in (or not), and resolves when the last one has left. */
export async function runBar(
  options: BarOptions,
  onEvent: (event: BarEvent) => void,
): Promise<BarSummary> {
  const { guests, rooms: roomCount, songMs, speed } = options;
  const sem = new Semaphore({
    limit: roomCount,
    name: 'karaoke',
    ...(options.line === undefined ? {} : { maxQueue: options.line }),
    ...(options.patienceMs === undefined ? {} : { queueTimeoutMs: options.patienceMs / speed }),
  });
  const rooms: Array<number | undefined> = Array.from({ length: roomCount }, () => undefined);
  const opened = performance.now();
  const clock = () => (performance.now() - opened) * speed;
  const sleep = (barMs: number) =>
    new Promise<void>((resolve) => setTimeout(resolve, barMs / speed));

  let waits = 0;
  let waited = 0;
  sem.onWait((realMs) => {
    waits++;
    waited += realMs * speed;
  });

  const summary: BarSummary = {
    guests,
    sang: 0,
    turnedAway: 0,
    gaveUp: 0,
    mostAtOnce: 0,
    totalMs: 0,
    meanWaitMs: 0,
  };
  const emit = (event: GuestEvent) =>
    onEvent({ ...event, at: clock(), rooms: [...rooms], waiting: sem.waiting } as BarEvent);

  async function guest(n: number): Promise<void> {
    const arrived = clock();
    // A free room and nobody in line: walk straight in. Otherwise join the line.
    let permit: Permit | undefined = sem.tryAcquire();
    if (permit === undefined) {
      const inLine = sem.waiting;
      const pending = sem.acquire();
      // A full line refuses at once, without queuing: only guests who joined the line wait.
      if (sem.waiting > inLine) emit({ type: 'waits', guest: n });
      try {
        permit = await pending;
      } catch (error) {
        if (isDoormanError(error, 'QUEUE_FULL')) {
          summary.turnedAway++;
          emit({ type: 'turned-away', guest: n, code: error.code });
        } else if (isDoormanError(error, 'QUEUE_TIMEOUT')) {
          summary.gaveUp++;
          emit({ type: 'gives-up', guest: n, code: error.code, waitedMs: clock() - arrived });
        } else throw error;
        return;
      }
    }
    try {
      const room = rooms.indexOf(undefined);
      // The semaphore admits at most `roomCount` guests, so a room is always free here.
      if (room < 0) throw new Error(`guest ${n} was admitted but every room is taken`);
      rooms[room] = n;
      summary.sang++;
      summary.mostAtOnce = Math.max(summary.mostAtOnce, sem.inUse);
      emit({ type: 'starts', guest: n, room: room + 1, waitedMs: clock() - arrived });
      await sleep(songMs);
      rooms[room] = undefined;
      emit({ type: 'finishes', guest: n, room: room + 1 });
    } finally {
      // Handing the room over wakes the next guest in line.
      permit.release();
    }
  }

  // Everyone arrives at opening time, in order.
  const everyone: Promise<void>[] = [];
  for (let n = 1; n <= guests; n++) everyone.push(guest(n));
  await Promise.all(everyone);
  await sem.idle();
  summary.totalMs = clock();
  summary.meanWaitMs = waits === 0 ? 0 : waited / waits;
  return summary;
}
