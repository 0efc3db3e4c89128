import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * V8's `gc()` in this process, even when it was started without
 * `--expose-gc`: the flag is set at run time and the function is taken from
 * a fresh context, where V8 installs it.
 */
export function exposeGc(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (typeof existing === 'function') return existing;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/**
 * `heapUsed` after each of `samples` forced full GCs, each after a few turns
 * of the event loop (so pending closes, timers and finalizers have run).
 */
export async function heapAfterGc(samples = 5): Promise<number[]> {
  const gc = exposeGc();
  const used: number[] = [];
  for (let i = 0; i < samples; i++) {
    for (let t = 0; t < 3; t++) await new Promise<void>((resolve) => setImmediate(resolve));
    gc();
    used.push(process.memoryUsage().heapUsed);
  }
  return used;
}
