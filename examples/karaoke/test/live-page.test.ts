// The live page in a real browser: Debian's headless Chromium, driven by
// playwright-core (no browser download). The demo's server runs the karaoke
// rounds over and over (as with `pnpm demo --serve`, here 4x faster); the
// page, polling /metrics, must show the 4 rooms taken and guests in line,
// then the guests turned away in round 2. A screenshot is kept under
// test-artifacts/. Needs /usr/bin/chromium (scripts/setup-test-env.sh).
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Replays } from '../src/http-bar.js';
import { KaraokeServer } from '../src/server.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const screenshot = resolve(root, 'test-artifacts/karaoke-live-page.png');
const chromiumPath = '/usr/bin/chromium';

let bar: KaraokeServer;
let replays: Replays;
let browser: Browser;
let page: Page;
const requested: string[] = [];
const pageErrors: string[] = [];

beforeAll(async () => {
  if (!existsSync(chromiumPath)) {
    throw new Error(
      `${chromiumPath} is missing: install Debian's chromium (bash scripts/setup-test-env.sh does)`,
    );
  }
  bar = new KaraokeServer({ rooms: 4, songMs: 2000, speed: 4 });
  await bar.start();
  replays = new Replays(bar, { guests: 20, line: 4, pauseMs: 300 });
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  page.on('request', (request) => requested.push(request.url()));
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(message.text());
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  const stopped = replays?.stop();
  await bar?.close();
  await stopped;
});

/** What the functions run in the page see (this project compiles without the DOM types). */
interface InPage {
  document: {
    querySelector(selector: string): {
      dataset: Record<string, string | undefined>;
      textContent: string | null;
    } | null;
    querySelectorAll(selector: string): { length: number };
  };
}

/** The page at one moment: its data-* numbers and what it has drawn. */
interface Shown {
  data: Record<string, string | undefined>;
  rooms: number;
  busyRooms: number;
  guestsInLine: number;
  waitingText: string | null | undefined;
  rejectionBars: number;
  inUsePaths: number;
  waitingPaths: number;
  legend: string | null | undefined;
}

/**
 * Waits until the page shows 4 rooms in use and guests in line (and, with
 * `rejected`, guests turned away since it opened, and 9 s or more of
 * samples), and returns what it showed at that very moment: the page redraws
 * every 300 ms, so everything is read in one go.
 */
async function waitForBusyBar(rejected: boolean): Promise<Shown> {
  const handle = await page.waitForFunction(
    (withRejections) => {
      const { document } = globalThis as unknown as InPage;
      const data = { ...document.querySelector('main')?.dataset };
      const busy = data['inUse'] === '4' && Number(data['waiting']) > 0;
      const enough =
        !withRejections || (Number(data['rejected']) > 0 && Number(data['samples']) >= 30);
      if (!busy || !enough) return false;
      const count = (selector: string) => document.querySelectorAll(selector).length;
      return {
        data,
        rooms: count('.room'),
        busyRooms: count('.room[data-busy="true"]'),
        guestsInLine: count('.queue .person.guest'),
        waitingText: document.querySelector('#waiting')?.textContent,
        rejectionBars: count('#chart-rejected rect'),
        inUsePaths: count('#chart-in-use path'),
        waitingPaths: count('#chart-waiting path'),
        legend: document.querySelector('#legend-rejected')?.textContent,
      };
    },
    rejected,
    { timeout: 45_000, polling: 50 },
  );
  return (await handle.jsonValue()) as Shown;
}

describe('the live page at /', () => {
  it('shows the 4 rooms in use and the guests waiting, then the guests turned away', async () => {
    await page.goto(`${bar.url}/`);
    expect(await page.title()).toBe('doorman — karaoke bar');

    // Round 1 under way: every room taken, guests in line.
    const busy = await waitForBusyBar(false);
    expect(busy.data['state']).toBe('live');
    expect(busy.data['limiter']).toBe('karaoke');
    expect(busy.data['limit']).toBe('4');
    expect(busy.data['inUse']).toBe('4');
    const waiting = Number(busy.data['waiting']);
    expect(waiting).toBeGreaterThan(0);
    // The drawing agrees with the numbers: 4 room boxes, all lit, and one
    // figure per guest in line (the page draws at most 24).
    expect(busy.rooms).toBe(4);
    expect(busy.busyRooms).toBe(4);
    expect(busy.guestsInLine).toBe(Math.min(waiting, 24));
    expect(busy.waitingText).toBe(String(waiting));

    // Round 2's short line turns guests away (QUEUE_FULL): the page counts
    // them and draws them by reason; then the rooms fill up again.
    const later = await waitForBusyBar(true);
    expect(Number(later.data['rejected'])).toBeGreaterThan(0);
    expect(later.rejectionBars).toBeGreaterThan(0);
    expect(later.legend).toContain('queue_full');
    // The gauges are drawn over the last minute: area and line, and the limit dashed.
    expect(later.inUsePaths).toBe(3);
    expect(later.waitingPaths).toBe(2);
    expect(later.busyRooms).toBe(4);

    mkdirSync(dirname(screenshot), { recursive: true });
    await page.screenshot({ path: screenshot, fullPage: true });

    // Self-contained: nothing but the page and its own /metrics was asked for.
    const origins = new Set(requested.map((url) => new URL(url).origin));
    expect([...origins]).toEqual([new URL(bar.url).origin]);
    expect(new Set(requested.map((url) => new URL(url).pathname))).toEqual(
      new Set(['/', '/metrics']),
    );
    expect(pageErrors).toEqual([]);
  }, 120_000);
});
