/**
 * The waiting line. Nodes are intrusive (each waiter carries its own links), so
 * enqueue, dequeue and removing a waiter that gave up (abort, timeout) are O(1)
 * with no allocation and no scan. Waiters of one priority share a bucket, a
 * doubly linked list; buckets of other priorities than 0 sit in a max-heap, so
 * priorities cost O(log p) for p distinct priorities in use, and nothing at all
 * when every waiter has priority 0.
 */
export type QueueOrder = 'fifo' | 'lifo';

export interface QueueNode {
  priority: number;
  prev: QueueNode | undefined;
  next: QueueNode | undefined;
  /** The bucket holding this node, or undefined when it is not queued. */
  bucket: Bucket | undefined;
}

export class Bucket {
  head: QueueNode | undefined = undefined;
  tail: QueueNode | undefined = undefined;
  heapIndex = -1;
  constructor(readonly priority: number) {}
}

export class WaitQueue<T extends QueueNode> {
  size = 0;
  private readonly lifo: boolean;
  private readonly base = new Bucket(0);
  private readonly byPriority = new Map<number, Bucket>();
  private readonly heap: Bucket[] = [];

  constructor(order: QueueOrder) {
    this.lifo = order === 'lifo';
  }

  push(node: T): void {
    const bucket = node.priority === 0 ? this.base : this.bucketFor(node.priority);
    node.bucket = bucket;
    node.next = undefined;
    node.prev = bucket.tail;
    if (bucket.tail === undefined) {
      bucket.head = node;
      if (bucket !== this.base) this.heapInsert(bucket);
    } else {
      bucket.tail.next = node;
    }
    bucket.tail = node;
    this.size++;
  }

  /** The waiter to serve next: highest priority, then by order. */
  peek(): T | undefined {
    const bucket = this.top();
    if (bucket === undefined) return undefined;
    return (this.lifo ? bucket.tail : bucket.head) as T | undefined;
  }

  /** Whether a newcomer of this priority would be served before everyone queued now. */
  landsAtHead(priority: number): boolean {
    if (this.size === 0) return true;
    const top = this.top() as Bucket;
    return priority > top.priority || (this.lifo && priority === top.priority);
  }

  shift(): T | undefined {
    const node = this.peek();
    if (node !== undefined) this.remove(node);
    return node;
  }

  /** Unlinks a queued node in O(1) (O(log p) when its bucket empties). No-op if not queued. */
  remove(node: T): void {
    const bucket = node.bucket;
    if (bucket === undefined) return;
    if (node.prev === undefined) bucket.head = node.next;
    else node.prev.next = node.next;
    if (node.next === undefined) bucket.tail = node.prev;
    else node.next.prev = node.prev;
    node.prev = undefined;
    node.next = undefined;
    node.bucket = undefined;
    this.size--;
    if (bucket.head === undefined && bucket !== this.base) {
      this.heapRemove(bucket);
      this.byPriority.delete(bucket.priority);
    }
  }

  /** Every queued node, in no promised order. For rare whole-queue work (close, shrink). */
  toArray(): T[] {
    const out: T[] = [];
    const collect = (bucket: Bucket) => {
      for (let n = bucket.head; n !== undefined; n = n.next) out.push(n as T);
    };
    collect(this.base);
    for (const bucket of this.heap) collect(bucket);
    return out;
  }

  private top(): Bucket | undefined {
    const best = this.heap[0];
    const base = this.base.head === undefined ? undefined : this.base;
    if (best === undefined) return base;
    if (base === undefined) return best;
    return best.priority > 0 ? best : base;
  }

  private bucketFor(priority: number): Bucket {
    let bucket = this.byPriority.get(priority);
    if (bucket === undefined) {
      bucket = new Bucket(priority);
      this.byPriority.set(priority, bucket);
    }
    return bucket;
  }

  private heapInsert(bucket: Bucket): void {
    bucket.heapIndex = this.heap.length;
    this.heap.push(bucket);
    this.siftUp(bucket.heapIndex);
  }

  private heapRemove(bucket: Bucket): void {
    const i = bucket.heapIndex;
    const last = this.heap.pop() as Bucket;
    bucket.heapIndex = -1;
    if (last === bucket) return;
    this.heap[i] = last;
    last.heapIndex = i;
    this.siftDown(i);
    this.siftUp(last.heapIndex);
  }

  private siftUp(i: number): void {
    const heap = this.heap;
    const item = heap[i] as Bucket;
    while (i > 0) {
      const parentIndex = (i - 1) >> 1;
      const parent = heap[parentIndex] as Bucket;
      if (parent.priority >= item.priority) break;
      heap[i] = parent;
      parent.heapIndex = i;
      i = parentIndex;
    }
    heap[i] = item;
    item.heapIndex = i;
  }

  private siftDown(i: number): void {
    const heap = this.heap;
    const n = heap.length;
    const item = heap[i] as Bucket;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      let child = left;
      if (right < n && (heap[right] as Bucket).priority > (heap[left] as Bucket).priority) {
        child = right;
      }
      const c = heap[child] as Bucket;
      if (c.priority <= item.priority) break;
      heap[i] = c;
      c.heapIndex = i;
      i = child;
    }
    heap[i] = item;
    item.heapIndex = i;
  }
}
