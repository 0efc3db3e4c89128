// `pnpm demo`: the karaoke bar, replayed with @doorman/semaphore.
// 20 guests, 4 rooms, a song lasts 2 s: four sing, the rest wait at the door
// and walk in as rooms free up; the last song ends after about 10 s.
//
//   pnpm demo                 real time, about 10 s
//   pnpm demo --fast          20x faster
//   pnpm demo --line 10 --patience 5    a bounded line and impatient guests
import { parseArgs } from 'node:util';
import { runBar } from './src/bar.js';
import { Timeline } from './src/timeline.js';

const usage = `Usage: pnpm demo [options]

  --fast             play 20x faster (same as --speed 20)
  --speed <x>        play x times faster than real time (default 1)
  --guests <n>       guests arriving at the door (default 20)
  --rooms <n>        karaoke rooms, the semaphore's limit (default 4)
  --song <seconds>   length of one song (default 2)
  --line <n>         most guests waiting at the door; more are turned away (default: no limit)
  --patience <s>     seconds a guest waits before giving up (default: forever)
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
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(usage);
    return;
  }
  const line = values.line === undefined ? undefined : number('line', values.line, 0, true, 0);
  const patience =
    values.patience === undefined ? undefined : number('patience', values.patience, 0, false);
  const options = {
    guests: number('guests', values.guests, 20, true),
    rooms: number('rooms', values.rooms, 4, true),
    songMs: number('song', values.song, 2, false) * 1000,
    speed: number('speed', values.speed, values.fast ? 20 : 1, false),
    ...(line === undefined ? {} : { line }),
    ...(patience === undefined ? {} : { patienceMs: patience * 1000 }),
  };

  const timeline = new Timeline(options);
  for (const text of timeline.header()) console.log(text);
  const started = performance.now();
  const summary = await runBar(options, (event) => console.log(timeline.line(event)));
  for (const text of timeline.footer(summary, performance.now() - started)) console.log(text);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  console.error(`\n${usage}`);
  process.exitCode = 1;
});
