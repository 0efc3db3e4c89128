// A guest who hangs up mid-song (Ctrl-C on `pnpm demo --serve`, a client that
// times out) must not free the room before the song has stopped: the next
// guest in line would walk into a room still taken.
import http from 'node:http';
import { describe, expect, it } from 'vitest';
import { KaraokeServer, type ServerEvent } from '../src/server.js';

function sing(url: string): { req: http.ClientRequest; status: Promise<number | 'gone'> } {
  const req = http.get(`${url}/sing`);
  const status = new Promise<number | 'gone'>((resolve) => {
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve('gone'));
  });
  return { req, status };
}

describe('guests who hang up mid-song', () => {
  it('free their room only when their song has stopped, so nobody finds every room taken', async () => {
    const bar = new KaraokeServer({ rooms: 2, songMs: 60_000, speed: 1 });
    const url = await bar.start();
    try {
      const started: number[] = [];
      const twoSinging = new Promise<void>((resolve) => {
        bar.listen((event: ServerEvent) => {
          if (event.type === 'starts') {
            started.push(event.guest);
            if (started.length === 2) resolve();
          }
        });
      });
      const singers = [sing(url), sing(url)];
      await twoSinging;
      const waiting = [sing(url), sing(url)];
      await expect.poll(() => bar.door.limiter.waiting).toBe(2);
      // Both singers hang up at once: the two guests in line take their rooms.
      for (const singer of singers) singer.req.destroy();
      await expect.poll(() => started.length).toBe(4);
      expect(bar.state().rooms.filter((guest) => guest !== undefined)).toHaveLength(2);
      for (const guest of waiting) guest.req.destroy();
      await Promise.all([...singers, ...waiting].map((guest) => guest.status));
      await expect.poll(() => bar.door.limiter.inUse).toBe(0);
      const { acquired, released } = bar.door.limiter.counters;
      expect(acquired).toBe(4);
      expect(released).toBe(4);
    } finally {
      await bar.close();
    }
  });
});
