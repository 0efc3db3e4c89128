// `pnpm demo`: the karaoke bar over HTTP. An Express server with 4 rooms
// (concurrencyLimit({ limit: 4 })) in front of GET /sing, where a song takes
// 2 s. Round 1: 20 guests (HTTP clients) arrive at once; four sing, the rest
// wait at the door and walk in as rooms free up; about 10 s. Round 2: the line
// at the door holds 4, so 12 guests are turned away with 503 and Retry-After.
//
//   pnpm demo                 real time, about 14 s
//   pnpm demo --fast          20x faster
//   pnpm demo --serve         then keep the bar open: a live page at http://127.0.0.1:3000/
//   pnpm demo --local         the bar without HTTP: the semaphore alone, replayed
//   pnpm demo --adaptive      tonight nobody knows how many rooms work: the doorman learns it
import { parseArgs } from 'node:util';
import { eveningDefaults, runAdaptiveDemo } from './src/adaptive-demo.js';
import { runBar } from './src/bar.js';
import { runHttpDemo } from './src/http-demo.js';
import { Timeline } from './src/timeline.js';

const usage = `Usage: pnpm demo [options]

  --fast             play 20x faster (same as --speed 20)
  --speed <x>        play x times faster than real time (default 1)
  --guests <n>       guests arriving at the door (default 20)
  --rooms <n>        karaoke rooms, the limit (default 4)
  --song <seconds>   length of one song (default 2)
  --line <n>         most guests waiting at the door; more are turned away
                     (default: 4 in round 2 over HTTP; no limit with --local)
  --patience <s>     seconds a guest waits before giving up (default: forever)
  --serve            after the rounds, keep the bar open with its live page
                     (http://127.0.0.1:3000/, or --port), guests coming back now and then
  --port <n>         the server's port (default: any free one; 3000 with --serve)
  --local            no HTTP: the semaphore alone, one round, replayed in-process
  --adaptive         tonight the bar does not know how many rooms work: rooms
                     close and reopen (8, 3, 10) while guests keep coming, and an
                     AdaptiveSemaphore learns the limit (60 s; takes --fast,
                     --speed and --port)
  -h, --help         show this help`;

function number(
  name: string,
  text: string | undefined,
  fallback: number,
  integer: boolean,
  min = 1,
): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  const ok = integer
    ? Number.isInteger(value) && value >= min
    : Number.isFinite(value) && value > 0;
  if (text.trim() === '' || !ok) {
    const expected = integer ? `a whole number >= ${min}` : 'a number > 0';
    throw new Error(`--${name} expects ${expected}, got '${text}'`);
  }
  return value;
}

// `pnpm demo | head` closes the pipe early: stop quietly.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(0);
});

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      fast: { type: 'boolean', default: false },
      speed: { type: 'string' },
      guests: { type: 'string' },
      rooms: { type: 'string' },
      song: { type: 'string' },
      line: { type: 'string' },
      patience: { type: 'string' },
      serve: { type: 'boolean', default: false },
      port: { type: 'string' },
      local: { type: 'boolean', default: false },
      adaptive: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(usage);
    return;
  }
  if (values.adaptive) {
    const others = ['guests', 'rooms', 'song', 'line', 'patience', 'serve', 'local'] as const;
    const given = others.filter((name) => values[name] !== undefined && values[name] !== false);
    if (given.length > 0) {
      throw new Error(
        `--adaptive plays its own evening: it takes --fast, --speed and --port, not ${given.map((g) => `--${g}`).join(', ')}`,
      );
    }
    const port = values.port === undefined ? undefined : number('port', values.port, 0, true, 0);
    await runAdaptiveDemo(
      {
        ...eveningDefaults,
        speed: number('speed', values.speed, values.fast ? 20 : 1, false),
        ...(port === undefined ? {} : { port }),
      },
      (text) => console.log(text),
    );
    return;
  }
  if (values.local && (values.serve || values.port !== undefined)) {
    throw new Error('--local plays without a server: it takes neither --serve nor --port');
  }
  const line = values.line === undefined ? undefined : number('line', values.line, 0, true, 0);
  const patience =
    values.patience === undefined ? undefined : number('patience', values.patience, 0, false);
  const options = {
    guests: number('guests', values.guests, 20, true),
    rooms: number('rooms', values.rooms, 4, true),
    songMs: number('song', values.song, 2, false) * 1000,
    speed: number('speed', values.speed, values.fast ? 20 : 1, false),
    ...(patience === undefined ? {} : { patienceMs: patience * 1000 }),
  };

  if (!values.local) {
    const port = values.port === undefined ? undefined : number('port', values.port, 0, true, 0);
    await runHttpDemo(
      {
        ...options,
        line: line ?? 4,
        serve: values.serve,
        ...(port === undefined ? {} : { port }),
      },
      (text) => console.log(text),
    );
    return;
  }

  const local = { ...options, ...(line === undefined ? {} : { line }) };
  const timeline = new Timeline(local);
  for (const text of timeline.header()) console.log(text);
  const started = performance.now();
  const summary = await runBar(local, (event) => console.log(timeline.line(event)));
  for (const text of timeline.footer(summary, performance.now() - started)) console.log(text);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  console.error(`\n${usage}`);
  process.exitCode = 1;
});
