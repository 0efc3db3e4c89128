/**
 * A reference model of KeyedSemaphore with fair shares, written for clarity
 * over speed: every key's line is a plain array scanned for its head, the
 * round robin is an array whose first entry has the turn, time is a number.
 *
 * The rules it states:
 * - a newcomer is admitted at once when its units fit its key's limit and the
 *   total, nobody of its key comes first, and no key waits for a turn;
 * - a key whose next waiter fits its own limit waits in the round robin; it
 *   joins at the tail;
 * - while there is total capacity, the key whose turn it is earns one unit of
 *   credit per turn (once per turn) and admits its next waiter when the credit
 *   covers its weight and the units fit the total; a due waiter that does not
 *   fit keeps the turn; a key leaves the round robin (losing its credit) when
 *   its next waiter does not fit its own limit or nobody of it waits.
 */
export type Order = 'fifo' | 'lifo';

export interface KeyedConfig {
  limit: number;
  totalLimit: number | undefined;
  maxQueue: number;
  queueTimeoutMs: number | undefined;
  order: Order;
}

export type Outcome = 'ADMITTED' | 'QUEUE_FULL' | 'QUEUE_TIMEOUT' | 'CLOSED' | 'ABORTED' | 'RANGE';

export interface ModelWaiter {
  id: number;
  key: string;
  weight: number;
  priority: number;
  seq: number;
  deadline: number;
  timerSeq: number;
}

export interface ModelHolder {
  id: number;
  key: string;
  weight: number;
  released: boolean;
}

interface ModelKey {
  held: number;
  queue: ModelWaiter[];
  deficit: number;
}

export class KeyedModel {
  limit: number;
  readonly total: number;
  held = 0;
  closed = false;
  now = 0;
  /** Keys in use, in the order they were made (a dropped key made again goes last). */
  keys = new Map<string, ModelKey>();
  /** The round robin: `ring[0]` has the turn; the rest follow in order. */
  ring: string[] = [];
  granted = false;
  holders: ModelHolder[] = [];
  counters = {
    acquired: 0,
    released: 0,
    rejected: { queue_full: 0, timeout: 0, aborted: 0, closed: 0, unavailable: 0 },
  };
  pendingIdle: number[] = [];
  admitted: number[] = [];
  rejected: Array<[number, Outcome]> = [];
  idled: number[] = [];
  private seq = 0;
  private timerSeq = 0;

  constructor(readonly cfg: KeyedConfig) {
    this.limit = cfg.limit;
    this.total = cfg.totalLimit ?? Number.POSITIVE_INFINITY;
  }

  beginStep(): void {
    this.admitted = [];
    this.rejected = [];
    this.idled = [];
  }

  get waiting(): number {
    let n = 0;
    for (const k of this.keys.values()) n += k.queue.length;
    return n;
  }

  get waitingKeys(): number {
    return [...this.keys.values()].filter((k) => k.queue.length > 0).length;
  }

  heldBy(key: string): number {
    return this.keys.get(key)?.held ?? 0;
  }

  waitingOf(key: string): number {
    return this.keys.get(key)?.queue.length ?? 0;
  }

  private headOf(k: ModelKey): ModelWaiter | undefined {
    let best: ModelWaiter | undefined;
    for (const w of k.queue) {
      if (
        best === undefined ||
        w.priority > best.priority ||
        (w.priority === best.priority &&
          (this.cfg.order === 'lifo' ? w.seq > best.seq : w.seq < best.seq))
      ) {
        best = w;
      }
    }
    return best;
  }

  private keyOf(key: string): ModelKey {
    let k = this.keys.get(key);
    if (k === undefined) {
      k = { held: 0, queue: [], deficit: 0 };
      this.keys.set(key, k);
    }
    return k;
  }

  private admit(id: number, key: string, weight: number): void {
    this.keyOf(key).held += weight;
    this.held += weight;
    this.counters.acquired++;
    this.holders.push({ id, key, weight, released: false });
    this.admitted.push(id);
  }

  private settle(id: number, outcome: Outcome): void {
    this.rejected.push([id, outcome]);
  }

  private leaveRing(key: string): void {
    const i = this.ring.indexOf(key);
    if (i < 0) return;
    this.ring.splice(i, 1);
    if (i === 0) this.granted = false;
    this.keyOf(key).deficit = 0;
  }

  private reconsider(key: string): void {
    const k = this.keyOf(key);
    const head = this.headOf(k);
    if (head !== undefined && k.held + head.weight <= this.limit) {
      if (!this.ring.includes(key)) this.ring.push(key);
    } else {
      this.leaveRing(key);
    }
  }

  private dispatch(): void {
    for (;;) {
      const key = this.ring[0];
      if (key === undefined || this.held >= this.total) return;
      const k = this.keyOf(key);
      const head = this.headOf(k) as ModelWaiter;
      if (!this.granted) {
        this.granted = true;
        k.deficit += 1;
      }
      if (head.weight > k.deficit) {
        this.ring.push(this.ring.shift() as string);
        this.granted = false;
        continue;
      }
      if (this.held + head.weight > this.total) return;
      k.queue.splice(k.queue.indexOf(head), 1);
      k.deficit -= head.weight;
      this.admit(head.id, key, head.weight);
      const next = this.headOf(k);
      if (next === undefined || k.held + next.weight > this.limit) this.leaveRing(key);
      else if (next.weight > k.deficit) {
        this.ring.push(this.ring.shift() as string);
        this.granted = false;
      }
    }
  }

  private dropIfIdle(key: string): void {
    const k = this.keys.get(key);
    if (k !== undefined && k.held === 0 && k.queue.length === 0) {
      this.leaveRing(key);
      this.keys.delete(key);
    }
  }

  private checkIdle(): void {
    if (this.held !== 0 || this.waiting !== 0) return;
    this.idled.push(...this.pendingIdle);
    this.pendingIdle = [];
  }

  acquire(
    id: number,
    key: string,
    weight: number,
    priority: number,
    timeoutMs: number | undefined,
    aborted: boolean,
  ): void {
    if (weight > Math.min(this.limit, this.total)) {
      this.settle(id, 'RANGE');
      return;
    }
    if (this.closed) {
      this.counters.rejected.closed++;
      this.settle(id, 'CLOSED');
      return;
    }
    if (aborted) {
      this.counters.rejected.aborted++;
      this.settle(id, 'ABORTED');
      return;
    }
    const existing = this.keys.get(key);
    const top = existing === undefined ? undefined : this.headOf(existing);
    const landsAtHead =
      top === undefined ||
      priority > top.priority ||
      (this.cfg.order === 'lifo' && priority === top.priority);
    if (
      this.held + weight <= this.total &&
      this.ring.length === 0 &&
      (existing?.held ?? 0) + weight <= this.limit &&
      landsAtHead
    ) {
      this.admit(id, key, weight);
      return;
    }
    if ((existing?.queue.length ?? 0) >= this.cfg.maxQueue) {
      this.counters.rejected.queue_full++;
      this.settle(id, 'QUEUE_FULL');
      return;
    }
    const k = this.keyOf(key);
    const timeout = timeoutMs ?? this.cfg.queueTimeoutMs ?? Number.POSITIVE_INFINITY;
    const w: ModelWaiter = {
      id,
      key,
      weight,
      priority,
      seq: this.seq++,
      deadline: this.now + timeout,
      timerSeq: timeout === Number.POSITIVE_INFINITY ? -1 : this.timerSeq++,
    };
    k.queue.push(w);
    if (this.headOf(k) === w) {
      this.reconsider(key);
      this.dispatch();
    }
  }

  /** The holder id given, `undefined` for no permit, or 'throws' for a bad weight. */
  tryAcquire(id: number, key: string, weight: number): number | 'throws' | undefined {
    if (weight > Math.min(this.limit, this.total)) return 'throws';
    if (this.closed || this.ring.length > 0 || this.held + weight > this.total) return undefined;
    const k = this.keys.get(key);
    if (k !== undefined && (k.queue.length > 0 || k.held + weight > this.limit)) return undefined;
    this.admit(id, key, weight);
    this.admitted.pop(); // a tryAcquire is not an acquire's settlement
    return id;
  }

  release(holder: ModelHolder): void {
    if (holder.released) return;
    holder.released = true;
    this.keyOf(holder.key).held -= holder.weight;
    this.held -= holder.weight;
    this.counters.released++;
    if (this.waitingOf(holder.key) > 0) this.reconsider(holder.key);
    this.dispatch();
    this.dropIfIdle(holder.key);
    this.checkIdle();
  }

  private abandon(w: ModelWaiter, outcome: 'ABORTED' | 'QUEUE_TIMEOUT'): void {
    const k = this.keyOf(w.key);
    const wasHead = this.headOf(k) === w;
    k.queue.splice(k.queue.indexOf(w), 1);
    if (outcome === 'ABORTED') this.counters.rejected.aborted++;
    else this.counters.rejected.timeout++;
    this.settle(w.id, outcome);
    if (wasHead) {
      this.reconsider(w.key);
      this.dispatch();
    }
    this.dropIfIdle(w.key);
    this.checkIdle();
  }

  abort(id: number): void {
    for (const k of this.keys.values()) {
      const w = k.queue.find((q) => q.id === id);
      if (w !== undefined) {
        this.abandon(w, 'ABORTED');
        return;
      }
    }
  }

  advance(ms: number): void {
    const target = this.now + ms;
    for (;;) {
      let next: ModelWaiter | undefined;
      for (const k of this.keys.values()) {
        for (const w of k.queue) {
          if (w.deadline > target) continue;
          if (
            next === undefined ||
            w.deadline < next.deadline ||
            (w.deadline === next.deadline && w.timerSeq < next.timerSeq)
          ) {
            next = w;
          }
        }
      }
      if (next === undefined) break;
      this.now = next.deadline;
      this.abandon(next, 'QUEUE_TIMEOUT');
    }
    this.now = target;
  }

  setLimit(limit: number): void {
    const shrinking = limit < this.limit;
    this.limit = limit;
    const most = Math.min(limit, this.total);
    for (const [key, k] of this.keys) {
      if (k.queue.length === 0) continue;
      if (shrinking) {
        for (const w of [...k.queue]) {
          if (w.weight <= most) continue;
          k.queue.splice(k.queue.indexOf(w), 1);
          this.counters.rejected.queue_full++;
          this.settle(w.id, 'QUEUE_FULL');
        }
      }
      this.reconsider(key);
    }
    this.dispatch();
    for (const key of [...this.keys.keys()]) this.dropIfIdle(key);
    this.checkIdle();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const [key, k] of [...this.keys]) {
      this.leaveRing(key);
      for (const w of k.queue) {
        this.counters.rejected.closed++;
        this.settle(w.id, 'CLOSED');
      }
      k.queue = [];
      this.dropIfIdle(key);
    }
    this.checkIdle();
  }

  idle(id: number): void {
    this.pendingIdle.push(id);
    this.checkIdle();
  }
}
