// Smoke test of `pnpm demo --adaptive --fast`: runs the demo as a child
// process, as a user would (through tsx, against the packages' sources), and
// reads its timeline back: the rooms follow the evening's schedule, the
// doorman's limit stays in its bounds and moves, nobody sings beyond the
// limit, every guest is accounted for. How well the limit follows the rooms
// is measured in packages/adaptive (on a virtual clock) and in bench/adaptive,
// not here: at 20x speed a busy machine's scheduling delays rival a song.
import { execFile } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const exampleDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function demo(args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      ['--conditions=@doorman/source', '--import', 'tsx', 'demo.ts', ...args],
      { cwd: exampleDir, timeout: 60_000 },
      (error, stdout, stderr) => {
        done({ stdout, stderr, code: error === null ? 0 : Number(error.code ?? 1) });
      },
    );
  });
}

const tickLine =
  /^\s*(\d+\.\d) s\s+(\d+) #+\s+limit\s+(\d+) =+\s+(\d+)\s+(\d+)\s+\+(\d+)\s+\+(\d+)$/;

describe('pnpm demo --adaptive --fast', () => {
  it('plays the evening: rooms close and reopen, and the doorman keeps a limit of its own', async () => {
    const { stdout, code } = await demo(['--adaptive', '--fast']);
    expect(code).toBe(0);
    expect(stdout).toContain('Tonight the karaoke bar does not know how many of its rooms work.');
    expect(stdout).toContain('(played 20x faster than real time; times are bar time)');
    const ticks = stdout
      .split('\n')
      .map((line) => tickLine.exec(line))
      .filter((match) => match !== null)
      .map((match) => {
        const [at, rooms, limit, singing, waiting, sang, away] = match.slice(1).map(Number);
        return { at, rooms, limit, singing, waiting, sang, away } as Record<string, number>;
      });
    // A line every 1.5 s of bar time, for 60 s.
    expect(ticks.length).toBeGreaterThanOrEqual(35);
    expect(ticks.length).toBeLessThanOrEqual(40);
    for (const tick of ticks) {
      const phase = Math.floor(((tick.at as number) - 0.001) / 20);
      expect(tick.rooms, `rooms at ${tick.at} s`).toBe([8, 3, 10][phase]);
      expect(tick.limit).toBeGreaterThanOrEqual(1);
      expect(tick.limit).toBeLessThanOrEqual(30);
      // The line at the door holds 10 (maxQueue).
      expect(tick.waiting).toBeLessThanOrEqual(10);
    }
    expect(new Set(ticks.map((t) => t.limit)).size, 'the limit moves').toBeGreaterThan(1);

    const phases = [
      ...stdout.matchAll(
        /^Phase (\d): (\d+) rooms working; the doorman let in ([\d.]+) at a time/gm,
      ),
    ];
    expect(phases.map((m) => [Number(m[1]), Number(m[2])])).toEqual([
      [1, 8],
      [2, 3],
      [3, 10],
    ]);
    const evening = /^The evening: (\d+) guests, (\d+) sang, (\d+) turned away \(503\);/m.exec(
      stdout,
    );
    expect(evening).not.toBeNull();
    const [guests, sang, away] = (evening as RegExpExecArray).slice(1).map(Number) as [
      number,
      number,
      number,
    ];
    expect(sang + away).toBe(guests);
    expect(sang).toBeGreaterThan(0);
    expect(away).toBeGreaterThan(0);
  });

  it('refuses the options of the other modes', async () => {
    const { stderr, code } = await demo(['--adaptive', '--rooms', '4']);
    expect(code).toBe(1);
    expect(stderr).toContain(
      '--adaptive plays its own evening: it takes --fast, --speed and --port, not --rooms',
    );
  });
});
