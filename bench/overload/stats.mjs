// Small statistics shared by the overload runner and its servers.

/** Nearest-rank quantile of an ascending array; null when empty. */
export function quantile(sorted, q) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

export function summarize(values) {
  const s = Float64Array.from(values).sort();
  return { count: s.length, p50: quantile(s, 0.5), p99: quantile(s, 0.99), max: quantile(s, 1) };
}

export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * 503 latencies grouped by class, from a Map reason -> latencies: shed at once
 * (doorman's QUEUE_FULL; express-queue and the floor, which name no reason,
 * only ever shed at once) or turned away after waiting (QUEUE_TIMEOUT).
 */
export function byClass(byReason) {
  const atOnce = [];
  const queueTimeout = [];
  const other = [];
  for (const [reason, list] of byReason) {
    const into =
      reason === 'QUEUE_FULL' || reason === 'AT_ONCE'
        ? atOnce
        : reason === 'QUEUE_TIMEOUT'
          ? queueTimeout
          : other;
    for (const v of list) into.push(v);
  }
  return {
    atOnce: summarize(atOnce),
    queueTimeout: summarize(queueTimeout),
    other: summarize(other),
  };
}
