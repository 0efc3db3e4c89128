import { type Deferred, deferred } from './deferred.js';

/**
 * Handlers held open by the test (the rooms of the karaoke bar). A handler
 * calls `enter(label)` and stays inside until the test opens its gate
 * (`open`, `openNext`, `openHeld`, `openAll`) or fails it (`fail`);
 * `reached(n)` resolves once n handlers have entered. It counts how many are
 * inside at once. No sleeps anywhere.
 */
export class Stage {
  /** Labels of the handlers that entered, in order of entry. */
  readonly labels: string[] = [];
  /** Handlers inside now. */
  active = 0;
  /** Most handlers inside at once. */
  maxActive = 0;
  private readonly gates: Array<Deferred<void>> = [];
  private readonly watchers: Array<{ count: number; done: Deferred<void> }> = [];
  private openLater = false;
  private nextToOpen = 0;

  /** How many handlers have entered so far. */
  get entered(): number {
    return this.gates.length;
  }

  /** Called by a handler: resolves when the test opens this handler's gate, rejects if it fails it. */
  async enter(label = ''): Promise<void> {
    const gate = deferred();
    this.gates.push(gate);
    this.labels.push(label);
    if (this.openLater) gate.resolve();
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    for (let i = this.watchers.length - 1; i >= 0; i--) {
      const watcher = this.watchers[i] as { count: number; done: Deferred<void> };
      if (this.gates.length >= watcher.count) {
        this.watchers.splice(i, 1);
        watcher.done.resolve();
      }
    }
    try {
      await gate.promise;
    } finally {
      this.active--;
    }
  }

  /** Handlers that entered and have not been let go (nor failed) by the test yet. */
  get held(): number {
    return this.gates.length - this.nextToOpen;
  }

  /** Resolves once `count` handlers have entered (in total). */
  reached(count: number): Promise<void> {
    if (this.gates.length >= count) return Promise.resolve();
    const done = deferred();
    this.watchers.push({ count, done });
    return done.promise;
  }

  /** Lets the `index`-th handler (0-based, in order of entry) finish. */
  open(index: number): void {
    this.gate(index).resolve();
  }

  /** Lets the oldest handler not yet let go finish. */
  openNext(): void {
    this.gate(this.nextToOpen++).resolve();
  }

  /** Lets every handler inside now finish (later ones stay held). */
  openHeld(): void {
    while (this.nextToOpen < this.gates.length) this.openNext();
  }

  /** Makes the `index`-th handler's `enter` reject with `error`. */
  fail(index: number, error: unknown): void {
    this.gate(index).reject(error);
  }

  /** Opens every gate, and every later one at once. */
  openAll(): void {
    this.openLater = true;
    for (const gate of this.gates) gate.resolve();
    this.nextToOpen = this.gates.length;
  }

  private gate(index: number): Deferred<void> {
    const gate = this.gates[index];
    if (gate === undefined) throw new Error(`handler ${index} has not entered`);
    return gate;
  }
}
