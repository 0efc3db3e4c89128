// Smoke test of `pnpm demo`, the karaoke bar over HTTP: runs the demo with
// --fast as a child process, as a user would (through tsx, against the
// packages' sources), and replays the printed timeline of both rounds to
// check the story it tells. Then `--serve`: the bar stays open, serves its
// live page and its metrics, takes POST /round, and closes on SIGTERM.
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const exampleDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const entry = ['--conditions=@doorman/source', '--import', 'tsx', 'demo.ts'];

function demo(args: string[]): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    execFile(
      process.execPath,
      [...entry, ...args],
      { cwd: exampleDir, timeout: 60_000 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`demo ${args.join(' ')} failed: ${error.message}\n${stderr}`));
        else resolvePromise(stdout);
      },
    );
  });
}

interface Line {
  at: number;
  text: string;
  rooms: Array<number | undefined>;
  waiting: number;
}

interface Round {
  title: string;
  lines: Line[];
  /** The lines after the timeline: the tally, the answers, the total. */
  footer: string[];
}

const eventLine = /^\s*(\d+\.\d) s {2}(.+?)\s+\[([\s\d·]+)\]\s+(\d+)$/;

/** Splits the output into its rounds, each with its event lines and its footer. */
function parse(stdout: string): { intro: string[]; rounds: Round[]; end: string[] } {
  const intro: string[] = [];
  const rounds: Round[] = [];
  const end: string[] = [];
  for (const raw of stdout.split('\n')) {
    if (/^Round \d+:/.test(raw)) {
      rounds.push({ title: raw, lines: [], footer: [] });
      continue;
    }
    const round = rounds.at(-1);
    if (round === undefined) {
      intro.push(raw);
      continue;
    }
    if (raw.startsWith('Both rounds:')) {
      end.push(raw);
      continue;
    }
    const match = eventLine.exec(raw);
    if (match === null) {
      if (raw.trim() !== '' && !/^\s+time\s+event/.test(raw)) round.footer.push(raw);
      continue;
    }
    const [, at, text, cells, waiting] = match as unknown as [
      string,
      string,
      string,
      string,
      string,
    ];
    round.lines.push({
      at: Number(at) * 1000,
      text,
      rooms: cells
        .trim()
        .split(/\s+/)
        .map((cell) => (cell === '·' ? undefined : Number(cell))),
      waiting: Number(waiting),
    });
  }
  return { intro, rounds, end };
}

interface Replay {
  started: number[];
  finished: number[];
  waited: number[];
  turnedAway: Array<{ guest: number; retryAfter: number }>;
  mostAtOnce: number;
  mostWaiting: number;
}

/** Replays a round's events, checking each printed row against the story so far. */
function replay(round: Round): Replay {
  const rooms: Array<number | undefined> = [undefined, undefined, undefined, undefined];
  const result: Replay = {
    started: [],
    finished: [],
    waited: [],
    turnedAway: [],
    mostAtOnce: 0,
    mostWaiting: 0,
  };
  for (const line of round.lines) {
    const start = /^guest (\d+) starts singing in room (\d) \(waited (\d+\.\d) s\)$/.exec(
      line.text,
    );
    const finish = /^guest (\d+) finishes in room (\d)$/.exec(line.text);
    const waits = /^guest (\d+) waits at the door$/.exec(line.text);
    const away = /^guest (\d+) is turned away: 503, Retry-After: (\d+) \(QUEUE_FULL\)$/.exec(
      line.text,
    );
    if (start !== null) {
      const guest = Number(start[1]);
      const room = Number(start[2]) - 1;
      expect(rooms[room], `room ${room + 1} is free for guest ${guest}`).toBeUndefined();
      rooms[room] = guest;
      result.started.push(guest);
    } else if (finish !== null) {
      const guest = Number(finish[1]);
      const room = Number(finish[2]) - 1;
      expect(rooms[room]).toBe(guest);
      rooms[room] = undefined;
      result.finished.push(guest);
    } else if (waits !== null) {
      result.waited.push(Number(waits[1]));
    } else {
      expect(away, `a known event: ${line.text}`).not.toBeNull();
      result.turnedAway.push({ guest: Number(away?.[1]), retryAfter: Number(away?.[2]) });
    }
    // The printed row (the server's rooms) agrees with the story so far.
    expect(line.rooms).toEqual(rooms);
    const singing = rooms.filter((guest) => guest !== undefined).length;
    expect(singing, 'never more than 4 singing').toBeLessThanOrEqual(4);
    result.mostAtOnce = Math.max(result.mostAtOnce, singing);
    result.mostWaiting = Math.max(result.mostWaiting, line.waiting);
  }
  return result;
}

function songsLong(footer: string[]): number {
  const total = footer.map((text) => /^Total: (\d+\.\d) s, (\d+\.\d) songs long/.exec(text));
  const match = total.find((found) => found !== null);
  expect(match, 'the total line').toBeTruthy();
  return Number(match?.[2]);
}

const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('pnpm demo --fast (the karaoke bar over HTTP)', () => {
  it('round 1: 20 guests, 4 rooms, everyone sings; round 2: a line of 4, 12 turned away with 503 and Retry-After', async () => {
    const stdout = await demo(['--fast']);
    const { intro, rounds, end } = parse(stdout);
    expect(intro.join('\n')).toMatch(
      /The karaoke bar opens at http:\/\/127\.0\.0\.1:\d+: 4 rooms, each song takes 2\.0 s\./,
    );
    expect(rounds.map((round) => round.title)).toEqual([
      'Round 1: 20 guests arrive at once for 4 rooms; the line at the door has room for everyone (maxQueue: 100).',
      'Round 2: 20 guests arrive at once for 4 rooms; the line at the door holds 4 (maxQueue: 4); the others are turned away with 503 and Retry-After.',
    ]);
    const [first, second] = rounds as [Round, Round];

    // Round 1: first come, first served; every guest sings once, at most 4 at a time.
    const one = replay(first);
    expect(one.started).toEqual(range(1, 20));
    expect([...one.finished].sort((a, b) => a - b)).toEqual(range(1, 20));
    expect(one.waited).toEqual(range(5, 20));
    expect(one.turnedAway).toEqual([]);
    expect(one.mostAtOnce).toBe(4);
    expect(one.mostWaiting).toBe(16);
    expect(first.lines.at(-1)?.waiting).toBe(0);
    expect(first.footer).toContain(
      '20 guests: 20 sang, 0 turned away, 0 gave up; at most 4 sang at once.',
    );
    expect(first.footer).toContain('Answers: 20 × 200 OK.');
    // Five waves of a song; timers may run late, never early.
    expect(songsLong(first.footer)).toBeGreaterThanOrEqual(4.95);

    // Round 2: 4 sing, 4 wait in line, the other 12 are turned away at once.
    const two = replay(second);
    expect(two.started).toEqual(range(1, 8));
    expect([...two.finished].sort((a, b) => a - b)).toEqual(range(1, 8));
    expect(two.waited).toEqual(range(5, 8));
    expect(two.mostWaiting).toBe(4);
    expect(two.mostAtOnce).toBe(4);
    expect(two.turnedAway.map((away) => away.guest)).toEqual(range(9, 20));
    const retryAfter = new Set(two.turnedAway.map((away) => away.retryAfter));
    expect(retryAfter.size).toBe(1);
    const seconds = [...retryAfter][0] as number;
    expect(seconds).toBeGreaterThanOrEqual(1);
    expect(second.footer).toContain(
      '20 guests: 8 sang, 12 turned away, 0 gave up; at most 4 sang at once.',
    );
    expect(second.footer).toContain(
      `Answers: 8 × 200 OK, 12 × 503 Service Unavailable with Retry-After: ${seconds}.`,
    );
    expect(songsLong(second.footer)).toBeGreaterThanOrEqual(1.95);

    expect(end).toHaveLength(1);
    expect(end[0]).toMatch(/^Both rounds: 40 guests, 28 sang, 12 turned away; \d+\.\d s in all\.$/);
  }, 60_000);

  it('--serve keeps the bar open: the live page, /metrics, POST /round, and a clean close', async () => {
    const child = spawn(process.execPath, [...entry, '--fast', '--serve', '--port', '0'], {
      cwd: exampleDir,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = once(child, 'exit');
    // Everything printed so far, and a way to wait for a line to appear in it.
    let out = '';
    const waiting = new Set<() => void>();
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      for (const check of waiting) check();
    });
    const printed = (pattern: RegExp) =>
      new Promise<RegExpExecArray>((resolvePromise, reject) => {
        const check = () => {
          const match = pattern.exec(out);
          if (match !== null) {
            waiting.delete(check);
            resolvePromise(match);
          }
        };
        waiting.add(check);
        check();
        void exited.then(() =>
          reject(new Error(`the demo exited before printing ${pattern}:\n${out}`)),
        );
      });
    try {
      const [, base] = await printed(
        /The bar stays open: watch it at (http:\/\/127\.0\.0\.1:\d+)\//,
      );
      const replayed = printed(
        /\[replay \d+, [^\]]+\] round 1: 20 sang; round 2: 8 sang, 12 turned away/,
      );

      const page = await fetch(`${base}/`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
      expect(await page.text()).toContain('<title>doorman — karaoke bar</title>');

      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metrics).toMatch(/^doorman_permits_limit\{limiter="karaoke"\} 4$/m);
      expect(metrics).toMatch(/^karaoke_round \d$/m);

      // The replays go on by themselves; POST /round asks for the next guests
      // at once, or says that they are already on their way.
      const round = await fetch(`${base}/round`, { method: 'POST' });
      expect([202, 409]).toContain(round.status);
      const answer = (await round.json()) as { started: boolean; message: string };
      expect(answer.started).toBe(round.status === 202);

      // A replay of both rounds tells the same story as the printed rounds.
      await replayed;
    } finally {
      child.kill('SIGTERM');
      const [code] = await exited;
      expect(code).toBe(0);
    }
  }, 60_000);
});
