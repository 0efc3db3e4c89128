// `pnpm demo`: the karaoke bar over HTTP. Starts the server (server.ts),
// plays two rounds of guests against it (http-bar.ts) and prints their
// timelines (timeline.ts); with `serve`, keeps the bar open afterwards, the
// guests coming back now and then, so the live page has something to show.
import type { BarOptions } from './bar.js';
import { playRound, Replays, type RoundOptions, type RoundSummary, rounds } from './http-bar.js';
import { KaraokeServer } from './server.js';
import { describeEvent, seconds, Timeline } from './timeline.js';

export interface HttpDemoOptions {
  guests: number;
  rooms: number;
  /** One song, in ms of bar time. */
  songMs: number;
  speed: number;
  /** Places in the line at the door in round 2. */
  line: number;
  /** How long guests wait before giving up, in ms of bar time; default: as long as it takes. */
  patienceMs?: number;
  /** Keep the bar open after the rounds, until SIGINT or SIGTERM. */
  serve: boolean;
  /** Port for the server; default any free port (with `serve`, 3000 if free). */
  port?: number;
}

const statusText: Record<number, string> = { 200: 'OK', 503: 'Service Unavailable' };

export async function runHttpDemo(
  options: HttpDemoOptions,
  print: (line: string) => void,
): Promise<void> {
  const { guests, rooms, songMs, speed } = options;
  const bar = new KaraokeServer({ rooms, songMs, speed });
  const url = await listen(bar, options);
  print(`The karaoke bar opens at ${url}: ${rooms} rooms, each song takes ${seconds(songMs)}.`);
  print(
    `At the door: app.use(concurrencyLimit({ limit: ${rooms}, maxQueue, ... })), in front of GET /sing.`,
  );
  print(
    options.serve
      ? `Live page: ${url}/ (open it now; metrics at ${url}/metrics)`
      : `Live page: ${url}/ while the rounds play (\`pnpm demo --serve\` keeps the bar open after them)`,
  );
  if (speed !== 1) print(`(played ${speed}x faster than real time; times are bar time)`);

  const scenario = {
    guests,
    line: options.line,
    ...(options.patienceMs === undefined ? {} : { patienceMs: options.patienceMs }),
  };
  const played: RoundSummary[] = [];
  try {
    for (const round of rounds(scenario)) {
      print('');
      print(roundTitle(round, rooms));
      played.push(await printRound(bar, round, options, print));
    }
  } catch (error) {
    await bar.close();
    throw error;
  }
  const sang = played.reduce((sum, round) => sum + round.sang, 0);
  const away = played.reduce((sum, round) => sum + round.turnedAway + round.gaveUp, 0);
  const total = played.reduce((sum, round) => sum + round.totalMs, 0);
  print('');
  print(
    `Both rounds: ${played.length * guests} guests, ${sang} sang, ${away} turned away; ${seconds(total)} in all.`,
  );

  if (!options.serve) {
    await bar.close();
    return;
  }
  await serve(bar, options, scenario, print);
}

/** `--port`, else 3000 with `--serve` (any free port if taken), else any free port. */
async function listen(bar: KaraokeServer, options: HttpDemoOptions): Promise<string> {
  if (options.port !== undefined || !options.serve) return bar.start(options.port ?? 0);
  try {
    return await bar.start(3000);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    return bar.start(0);
  }
}

function roundTitle(round: RoundOptions, rooms: number): string {
  const rules =
    round.round === 1
      ? `the line at the door has room for everyone (maxQueue: ${round.line})`
      : `the line at the door holds ${round.line} (maxQueue: ${round.line}); the others are turned away with 503 and Retry-After`;
  const patience =
    round.patienceMs === undefined ? '' : `; guests give up after ${seconds(round.patienceMs)}`;
  return `Round ${round.round}: ${round.guests} guests arrive at once for ${rooms} rooms; ${rules}${patience}.`;
}

async function printRound(
  bar: KaraokeServer,
  round: RoundOptions,
  options: HttpDemoOptions,
  print: (line: string) => void,
): Promise<RoundSummary> {
  const barOptions: BarOptions = {
    guests: round.guests,
    rooms: options.rooms,
    songMs: options.songMs,
    speed: options.speed,
    line: round.line,
  };
  // Wide enough for the longest lines: a late start, and a rejection with its headers.
  const widest = [
    describeEvent({
      type: 'starts',
      guest: round.guests,
      room: options.rooms,
      waitedMs: 99_000,
      at: 0,
      rooms: [],
      waiting: 0,
    }),
    describeEvent({
      type: 'turned-away',
      guest: round.guests,
      code: 'QUEUE_FULL',
      status: 503,
      retryAfter: '10',
      at: 0,
      rooms: [],
      waiting: 0,
    }),
  ];
  if (round.patienceMs !== undefined) {
    widest.push(
      describeEvent({
        type: 'gives-up',
        guest: round.guests,
        code: 'QUEUE_TIMEOUT',
        waitedMs: 99_000,
        status: 503,
        retryAfter: '10',
        at: 0,
        rooms: [],
        waiting: 0,
      }),
    );
  }
  const timeline = new Timeline(barOptions, {
    eventWidth: Math.max(...widest.map((text) => text.length)),
  });
  print('');
  print(timeline.columns());
  const started = performance.now();
  const summary = await playRound(bar, round, (event) => print(timeline.line(event)));
  const footer = timeline.footer(summary, performance.now() - started);
  // After the tally of guests, the answers they got over HTTP.
  footer.splice(2, 0, `Answers: ${answers(summary)}.`);
  for (const line of footer) print(line);
  return summary;
}

/** `8 × 200 OK, 12 × 503 Service Unavailable with Retry-After: 2` */
function answers(summary: RoundSummary): string {
  return Object.entries(summary.statuses)
    .map(([status, count]) => {
      const code = Number(status);
      const text = `${count} × ${code} ${statusText[code] ?? ''}`.trimEnd();
      return code === 200 || summary.retryAfter.length === 0
        ? text
        : `${text} with Retry-After: ${summary.retryAfter.join(', ')}`;
    })
    .join(', ');
}

async function serve(
  bar: KaraokeServer,
  options: HttpDemoOptions,
  scenario: { guests: number; line: number; patienceMs?: number },
  print: (line: string) => void,
): Promise<void> {
  // A pause of two songs between replays, then the guests come back.
  const pauseMs = (2 * options.songMs) / options.speed;
  let replay = 0;
  const replays = new Replays(
    bar,
    { ...scenario, pauseMs },
    (summaries) => {
      replay++;
      const text = summaries
        .map((round, index) => {
          const away = round.turnedAway + round.gaveUp;
          return `round ${index + 1}: ${round.sang} sang${away > 0 ? `, ${away} turned away (503)` : ''}`;
        })
        .join('; ');
      print(`[replay ${replay}, ${new Date().toLocaleTimeString()}] ${text}`);
    },
    (error) => print(`a replay failed: ${error instanceof Error ? error.message : String(error)}`),
  );
  print('');
  print(`The bar stays open: watch it at ${bar.url}/`);
  print(
    `The guests keep coming: both rounds again after a pause of two songs; POST ${bar.url}/round (or the page's button) sends them in at once. Ctrl-C closes the bar.`,
  );
  await new Promise<void>((resolve) => {
    const close = () => {
      process.off('SIGINT', close);
      process.off('SIGTERM', close);
      resolve();
    };
    process.on('SIGINT', close);
    process.on('SIGTERM', close);
  });
  print('Closing the bar.');
  const stopped = replays.stop();
  await bar.close();
  await stopped;
}
