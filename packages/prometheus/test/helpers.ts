import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LimiterCounters, RejectionReason, WaitListener } from '@doorman/semaphore';

import { deferred, waitUntil } from '../../../test/kit/index.js';

export { type Deferred, deferred } from '../../../test/kit/index.js';

/**
 * Waits until a limiter's public numbers reach a state: re-checked once per
 * event-loop turn (the server applies socket events between turns), with no
 * timer and no sleep, and a bounded number of turns.
 */
export function until<L>(limiter: L, condition: (limiter: L) => boolean): Promise<void> {
  return waitUntil(() => condition(limiter), `the limiter reached ${String(condition)}`);
}

/**
 * A limiter shaped by hand, as another package (or another copy of doorman)
 * could make it: plain numbers the test sets, and a wait hook the test fires.
 */
export class FakeLimiter {
  limit = 1;
  inUse = 0;
  waiting = 0;
  acquired = 0;
  rejected: Record<RejectionReason, number> = {
    queue_full: 0,
    timeout: 0,
    aborted: 0,
    closed: 0,
    unavailable: 0,
  };
  listeners: WaitListener[] = [];

  constructor(readonly name: string) {}

  get counters(): LimiterCounters {
    return { acquired: this.acquired, released: 0, rejected: { ...this.rejected } };
  }

  onWait(listener: WaitListener): () => void {
    this.listeners.push(listener);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  /** Reports an admission that waited `ms`. */
  admit(ms: number): void {
    this.acquired++;
    for (const listener of this.listeners) listener(ms);
  }
}

/** Starts listening on a free loopback port; returns the base URL. */
export async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

export async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve, reject) =>
    server.close((error) => (error ? reject(error) : resolve())),
  );
}

/**
 * Handlers that stay open until the test lets them go. `until(n)` resolves
 * once n handlers have entered; `release()` lets the oldest open one finish.
 */
export class Holds {
  private readonly open: Array<() => void> = [];
  private readonly watchers = new Set<() => void>();
  private opened = false;
  entered = 0;

  /** Called by a handler: resolves when the test releases it. */
  hold(): Promise<void> {
    if (this.opened) {
      this.entered++;
      return Promise.resolve();
    }
    const gate = deferred();
    this.open.push(gate.resolve);
    this.entered++;
    for (const watcher of [...this.watchers]) watcher();
    return gate.promise;
  }

  until(entered: number): Promise<void> {
    if (this.entered >= entered) return Promise.resolve();
    return new Promise((resolve) => {
      const watcher = () => {
        if (this.entered < entered) return;
        this.watchers.delete(watcher);
        resolve();
      };
      this.watchers.add(watcher);
    });
  }

  get openCount(): number {
    return this.open.length;
  }

  release(count = 1): void {
    for (let i = 0; i < count; i++) this.open.shift()?.();
  }

  releaseAll(): void {
    this.release(this.open.length);
  }

  /** Releases every open handler, and lets every later one through at once. */
  openAll(): void {
    this.opened = true;
    this.releaseAll();
  }
}

interface RegistryJson {
  getMetricsAsJSON(): Promise<
    Array<{
      name: string;
      values: Array<{ value: number; labels: object; metricName?: string }>;
    }>
  >;
}

/**
 * Every sample on a registry, keyed as Prometheus writes it:
 * `name{label="value",...}` with the labels sorted by name.
 */
export async function samplesOf(registry: RegistryJson): Promise<Map<string, number>> {
  const samples = new Map<string, number>();
  for (const metric of await registry.getMetricsAsJSON()) {
    for (const { value, labels, metricName } of metric.values) {
      samples.set(seriesKey(metricName ?? metric.name, labels as Record<string, unknown>), value);
    }
  }
  return samples;
}

export function seriesKey(name: string, labels: Record<string, unknown>): string {
  const text = Object.keys(labels)
    .sort()
    .map((label) => `${label}="${String(labels[label])}"`)
    .join(',');
  return `${name}{${text}}`;
}

// One sample line of the text format: name, optional {labels}, value, optional timestamp.
const sampleLine = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: -?\d+)?$/;
const labelPair = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/y;

/**
 * The samples of one metric family in exposition text, keyed as `seriesKey`
 * does. Strict: a line of the family that does not parse throws.
 */
export function samplesOfText(text: string, family: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = sampleLine.exec(line);
    if (match === null) throw new Error(`Not a sample line: ${line}`);
    const [, name = '', labelText = '', value = ''] = match;
    if (name !== family && !name.startsWith(`${family}_`)) continue;
    const labels: Record<string, string> = {};
    labelPair.lastIndex = 0;
    while (labelPair.lastIndex < labelText.length) {
      const pair = labelPair.exec(labelText);
      if (pair === null) throw new Error(`Bad labels in: ${line}`);
      labels[pair[1] as string] = (pair[2] as string).replace(/\\(.)/g, (_, c: string) =>
        c === 'n' ? '\n' : c,
      );
    }
    samples.set(seriesKey(name, labels), Number(value));
  }
  return samples;
}
