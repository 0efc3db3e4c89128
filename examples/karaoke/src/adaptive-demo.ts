// `pnpm demo --adaptive`: tonight the bar does not know how many rooms work.
// Rooms close and reopen while guests keep coming; the doorman is an
// AdaptiveSemaphore, which learns how many guests to let in from how long
// songs take. A guest let in when every working room is taken crowds a room,
// and everyone's song there drags: song x max(1, (singing / rooms)^2). The
// timeline prints, every tick, the rooms working next to the limit learned.
import { once } from 'node:events';
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { AdaptiveSemaphore, createGradient2 } from '@doorman/adaptive';
import { concurrencyLimit } from '@doorman/express';
import express from 'express';
import { seconds } from './timeline.js';

export interface AdaptiveDemoOptions {
  /** How many times faster than bar time the clock runs (1 = real time). */
  speed: number;
  /** A song alone in a room, in ms of bar time. */
  songMs: number;
  /** The evening: how many rooms work, and for how long (ms of bar time). */
  phases: ReadonlyArray<{ rooms: number; ms: number }>;
  /** Guests arriving per second of bar time, steadily, whatever the door does. */
  arrivalsPerS: number;
  /** A timeline line every this many ms of bar time. */
  tickMs: number;
  /** Port on 127.0.0.1; default any free one. */
  port?: number;
}

export const eveningDefaults = {
  songMs: 500,
  phases: [
    { rooms: 8, ms: 20_000 },
    { rooms: 3, ms: 20_000 },
    { rooms: 10, ms: 20_000 },
  ],
  arrivalsPerS: 28,
  tickMs: 1_500,
} as const;

interface Tick {
  at: number;
  rooms: number;
  limit: number;
  singing: number;
  waiting: number;
  sang: number;
  away: number;
}

export async function runAdaptiveDemo(
  options: AdaptiveDemoOptions,
  print: (line: string) => void,
): Promise<void> {
  const { speed, songMs, phases } = options;
  const real = (barMs: number) => barMs / speed;
  let rooms = phases[0]?.rooms ?? 1;
  let singing = 0;

  // The door: nobody says how many rooms there are. Songs are few per second,
  // so the algorithm decides on small windows (6 songs, or twice the limit)
  // and tries one guest more than a limit that once crowded the rooms every
  // 2 windows: the defaults are for servers with hundreds of answers a second.
  const limiter = new AdaptiveSemaphore({
    initialLimit: 4,
    minLimit: 1,
    maxLimit: 30,
    algorithm: createGradient2({ minWindow: 6, probeEvery: 2 }),
    maxQueue: 10,
    queueTimeoutMs: real(2 * songMs),
    name: 'karaoke',
  });
  const app = express();
  app.use(concurrencyLimit({ limiter }));
  app.get('/sing', async (_req, res) => {
    singing++;
    // Fixed when the song starts: a crowded room drags for everyone in it.
    const crowd = Math.max(1, (singing / rooms) ** 2);
    await delay(real(songMs * crowd));
    singing--;
    res.end('sang\n');
  });
  const server = createServer(app);
  server.listen(options.port ?? 0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/sing`;

  print('Tonight the karaoke bar does not know how many of its rooms work.');
  print(
    `Rooms close and reopen (${phases.map((p) => p.rooms).join(', then ')}); ${options.arrivalsPerS} guests arrive each second; a song alone takes ${seconds(songMs)},`,
  );
  print('and a guest let in when every working room is taken crowds a room: songs there drag.');
  print(
    'At the door: app.use(concurrencyLimit({ limiter: new AdaptiveSemaphore({ initialLimit: 4, ... }) })):',
  );
  print('the doorman learns how many to let in from how long songs take.');
  if (speed !== 1) print(`(played ${speed}x faster than real time; times are bar time)`);
  print('');
  print(
    `${'time'.padStart(7)}  ${'rooms working'.padEnd(19)} ${"doorman's limit".padEnd(21)} singing  waiting   sang  turned away`,
  );

  const agent = new Agent({ keepAlive: true });
  let sang = 0;
  let away = 0;
  let failed = 0;
  const guests: Array<Promise<void>> = [];
  const guest = () =>
    new Promise<void>((resolve) => {
      const req = request(url, { agent }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode === 200) sang++;
          else if (res.statusCode === 503) away++;
          else failed++;
          resolve();
        });
      });
      req.on('error', () => {
        failed++;
        resolve();
      });
      req.end();
    });

  const started = performance.now();
  const barNow = () => (performance.now() - started) * speed;
  const ticks: Tick[] = [];
  let nextTick = options.tickMs;
  let phaseEnd = 0;
  const phaseEnds = phases.map((p) => (phaseEnd += p.ms));
  const arrivalGapMs = 1000 / options.arrivalsPerS;
  let arrived = 0;
  // Guests come on schedule (bar time), whatever happened to the ones before.
  for (;;) {
    const now = barNow();
    if (now >= phaseEnd) break;
    const phase = phaseEnds.findIndex((end) => now < end);
    rooms = phases[phase]?.rooms ?? rooms;
    while (arrived * arrivalGapMs <= now) {
      arrived++;
      guests.push(guest());
    }
    while (nextTick <= now) {
      const tick: Tick = {
        at: nextTick,
        // The rooms of the tick's own time: a busy machine may print it late.
        rooms: phases[phaseEnds.findIndex((end) => nextTick <= end)]?.rooms ?? rooms,
        limit: limiter.limit,
        singing: limiter.inUse,
        waiting: limiter.waiting,
        sang,
        away,
      };
      ticks.push(tick);
      print(tickLine(tick, ticks.at(-2)));
      nextTick += options.tickMs;
    }
    await delay(Math.max(1, real(Math.min(arrivalGapMs, options.tickMs) / 2)));
  }
  await Promise.all(guests);
  agent.destroy();
  server.close();
  await limiter.close();

  print('');
  let from = 0;
  for (const [i, phase] of phases.entries()) {
    // The last two thirds of each phase: after the doorman had time to notice.
    const settled = ticks.filter((t) => t.at > from + phase.ms / 3 && t.at <= from + phase.ms);
    const mean = settled.reduce((sum, t) => sum + t.limit, 0) / Math.max(1, settled.length);
    print(
      `Phase ${i + 1}: ${phase.rooms} rooms working; the doorman let in ${mean.toFixed(1)} at a time on average once it had noticed.`,
    );
    from += phase.ms;
  }
  const alone = limiter.minLatencyMs;
  print(
    `The evening: ${arrived} guests, ${sang} sang, ${away} turned away (503)${failed > 0 ? `, ${failed} failed` : ''}; the doorman believes a song alone takes ${alone === undefined ? '(unknown)' : seconds(alone * speed)}.`,
  );
}

function tickLine(tick: Tick, previous: Tick | undefined): string {
  const bar = (n: number, mark: string) => mark.repeat(Math.min(n, 15)).padEnd(15);
  return [
    seconds(tick.at).padStart(7),
    `${String(tick.rooms).padStart(3)} ${bar(tick.rooms, '#')}`,
    `limit ${String(tick.limit).padStart(2)} ${bar(tick.limit, '=')}`,
    String(tick.singing).padStart(7),
    String(tick.waiting).padStart(8),
    `+${tick.sang - (previous?.sang ?? 0)}`.padStart(6),
    `+${tick.away - (previous?.away ?? 0)}`.padStart(12),
  ].join('  ');
}
