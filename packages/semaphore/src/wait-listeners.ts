import type { WaitListener } from './limiter.js';
import * as check from './validate.js';

/**
 * The `onWait` listeners of one limiter. `list` is undefined while there are
 * none, so the request path pays one field check; it is replaced, not
 * mutated, on change, so a listener that unsubscribes during an emit does not
 * disturb it.
 */
export class WaitListeners {
  list: WaitListener[] | undefined = undefined;

  constructor(private readonly limiterName: string) {}

  add(listener: WaitListener): () => void {
    if (typeof listener !== 'function') {
      throw new TypeError(`Expected \`listener\` to be a function, got ${check.show(listener)}`);
    }
    this.list = [...(this.list ?? []), listener];
    return () => {
      const rest = (this.list ?? []).filter((l) => l !== listener);
      this.list = rest.length === 0 ? undefined : rest;
    };
  }

  /** Calls every listener. Call it only when `list` is defined. */
  emit(waitMs: number): void {
    const listeners = this.list as WaitListener[];
    for (let i = 0; i < listeners.length; i++) {
      // A broken metrics hook must not cost a permit or stall the queue.
      try {
        (listeners[i] as WaitListener)(waitMs);
      } catch (error) {
        const message = `an onWait listener of limiter "${this.limiterName}" threw: ${error instanceof Error ? error.message : String(error)}`;
        globalThis.process?.emitWarning?.(message, {
          type: 'DoormanWarning',
          code: 'DOORMAN_LISTENER',
        });
      }
    }
  }
}
