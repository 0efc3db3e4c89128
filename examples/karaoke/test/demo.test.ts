// Smoke test of `pnpm demo --local` (the bar on the semaphore alone): runs
// the demo with --fast as a child process, exactly as a user would (through
// tsx, against the semaphore's sources), and replays the printed timeline to
// check the story it tells.
import { execFile } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const exampleDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function demo(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    execFile(
      process.execPath,
      ['--conditions=@doorman/source', '--import', 'tsx', 'demo.ts', '--local', ...args],
      { cwd: exampleDir, timeout: 60_000 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`demo ${args.join(' ')} failed: ${error.message}\n${stderr}`));
        else resolvePromise({ stdout, stderr });
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

const eventLine = /^\s*(\d+\.\d) s {2}(.+?)\s+\[([\s\d·]+)\]\s+(\d+)$/;

function parse(stdout: string): { lines: Line[]; footer: string[] } {
  const lines: Line[] = [];
  const footer: string[] = [];
  for (const raw of stdout.split('\n')) {
    const match = eventLine.exec(raw);
    if (match === null) {
      footer.push(raw);
      continue;
    }
    const [, at, text, cells, waiting] = match as unknown as [
      string,
      string,
      string,
      string,
      string,
    ];
    lines.push({
      at: Number(at) * 1000,
      text,
      rooms: cells
        .trim()
        .split(/\s+/)
        .map((cell) => (cell === '·' ? undefined : Number(cell))),
      waiting: Number(waiting),
    });
  }
  return { lines, footer };
}

describe('pnpm demo --local --fast (the semaphore alone, no HTTP)', () => {
  it('tells the karaoke story: 4 rooms, 20 guests, 5 rounds of a 2 s song', async () => {
    const { stdout } = await demo(['--fast']);
    expect(stdout).toContain('4 rooms, 20 guests, each sings for 2.0 s');
    const { lines, footer } = parse(stdout);

    const rooms: Array<number | undefined> = [undefined, undefined, undefined, undefined];
    const started: number[] = [];
    const finished: number[] = [];
    let mostAtOnce = 0;
    for (const line of lines) {
      const start = /^guest (\d+) starts singing in room (\d) \(waited (\d+\.\d) s\)$/.exec(
        line.text,
      );
      const finish = /^guest (\d+) finishes in room (\d)$/.exec(line.text);
      const waits = /^guest (\d+) waits at the door$/.exec(line.text);
      if (start !== null) {
        const guest = Number(start[1]);
        const room = Number(start[2]) - 1;
        expect(rooms[room], `room ${room + 1} is free for guest ${guest}`).toBeUndefined();
        rooms[room] = guest;
        // The hand-offs come in waves of four: guests 1-4 before any song ended,
        // guests 5-8 as the first four songs end, and so on.
        expect(Math.ceil(finished.length / 4), `the round in which guest ${guest} sings`).toBe(
          Math.floor((guest - 1) / 4),
        );
        started.push(guest);
      } else if (finish !== null) {
        const guest = Number(finish[1]);
        const room = Number(finish[2]) - 1;
        expect(rooms[room]).toBe(guest);
        rooms[room] = undefined;
        finished.push(guest);
      } else {
        expect(waits, `a known event: ${line.text}`).not.toBeNull();
      }
      // The printed row agrees with the story so far, and never shows more than 4 singing.
      expect(line.rooms).toEqual(rooms);
      const singing = rooms.filter((guest) => guest !== undefined).length;
      expect(singing).toBeLessThanOrEqual(4);
      mostAtOnce = Math.max(mostAtOnce, singing);
      expect(line.waiting + singing + finished.length).toBeLessThanOrEqual(20);
    }

    const everyone = Array.from({ length: 20 }, (_, i) => i + 1);
    expect(started).toEqual(everyone); // first come, first served
    expect([...finished].sort((a, b) => a - b)).toEqual(everyone);
    expect(mostAtOnce).toBe(4);
    expect(lines.at(-1)?.waiting).toBe(0);

    expect(footer).toContain(
      '20 guests: 20 sang, 0 turned away, 0 gave up; at most 4 sang at once.',
    );
    const total = footer
      .map((text) => /^Total: (\d+\.\d) s, (\d+\.\d) songs long/.exec(text))
      .find(Boolean);
    expect(total, 'the total line').toBeTruthy();
    const songs = Number(total?.[2]);
    // Five rounds of a song; timers may run late on a busy machine, never early.
    expect(songs).toBeGreaterThanOrEqual(4.95);
    expect(songs).toBeLessThan(7.5);
  }, 60_000);

  it('turns guests away when the line at the door is full', async () => {
    const { stdout } = await demo(['--fast', '--guests', '14', '--line', '6']);
    const { lines, footer } = parse(stdout);
    const turnedAway = lines
      .map((line) => /^guest (\d+) is turned away: line full \(QUEUE_FULL\)$/.exec(line.text))
      .filter((match) => match !== null)
      .map((match) => Number(match[1]));
    expect(turnedAway).toEqual([11, 12, 13, 14]);
    expect(Math.max(...lines.map((line) => line.waiting))).toBe(6);
    expect(footer).toContain(
      '14 guests: 10 sang, 4 turned away, 0 gave up; at most 4 sang at once.',
    );
  }, 60_000);
});
