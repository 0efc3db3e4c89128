/**
 * The keys that wait for total capacity, in turn: a circular doubly linked
 * list with a cursor on the key whose turn it is. Adding a key (at the tail,
 * so it comes after every key already waiting), removing one and moving the
 * cursor on are all O(1), with no allocation: the links live on the keys.
 */
export interface RingNode {
  ringPrev: RingNode | undefined;
  ringNext: RingNode | undefined;
}

export class FairRing<T extends RingNode> {
  /** The key whose turn it is, or undefined when no key waits. */
  current: T | undefined = undefined;
  /** Whether `current` has had its quantum for this turn. */
  granted = false;
  size = 0;

  has(node: T): boolean {
    return node.ringNext !== undefined;
  }

  /** Adds a key at the tail: its turn comes after every key waiting now. */
  append(node: T): void {
    const current = this.current;
    if (current === undefined) {
      node.ringPrev = node;
      node.ringNext = node;
      this.current = node;
      this.granted = false;
    } else {
      const tail = current.ringPrev as RingNode;
      tail.ringNext = node;
      node.ringPrev = tail;
      node.ringNext = current;
      current.ringPrev = node;
    }
    this.size++;
  }

  /** Takes a key out; if it had the turn, the turn passes to the next one. */
  remove(node: T): void {
    const next = node.ringNext as T;
    if (next === node) {
      this.current = undefined;
    } else {
      const prev = node.ringPrev as RingNode;
      prev.ringNext = next;
      next.ringPrev = prev;
      if (this.current === node) {
        this.current = next;
        this.granted = false;
      }
    }
    node.ringPrev = undefined;
    node.ringNext = undefined;
    this.size--;
  }

  /** Ends the current key's turn: the next key's begins. */
  advance(): void {
    this.current = (this.current as T).ringNext as T;
    this.granted = false;
  }
}
