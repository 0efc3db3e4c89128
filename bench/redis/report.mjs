// The Markdown of a `pnpm bench redis` run: the table of every (case,
// library), the ratios against redis-semaphore, and the targets of the
// crowded case. Used by run.mjs.

/**
 * @param {object} run
 * @param {Record<string, Record<string, any>>} run.results  lib -> case -> medians
 * @param {object} run.config  the run's settings (rounds, warmMs, measureMs, cases, libs, pipelining)
 * @param {object} run.machine  what the run ran on
 * @param {number} run.durationS
 * @param {Record<string, object>} run.CASES
 * @param {(c: object) => string} run.caseLabel
 * @param {Record<string, string>} run.LABELS
 * @param {number} run.LOCAL_HAND_OFF
 */
export function report({
  results,
  config,
  machine,
  durationS,
  CASES,
  caseLabel,
  LABELS,
  LOCAL_HAND_OFF,
}) {
  const fmt = (v, digits) => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a');
  const sub = ([a, b], digits) => ` <sub>${fmt(a, digits)}–${fmt(b, digits)}</sub>`;
  const md = [];
  md.push(
    '`pnpm bench redis` (`bench/redis/run.mjs`): `@doorman/redis` against [redis-semaphore](https://www.npmjs.com/package/redis-semaphore) 5.8 on one Redis. Every acquirer loops acquire → hold → release (→ pause, in `few`); the processes of a run share one key. Throughput counts admissions in the measured window.',
    '',
    "**Hand-off** is the time from a release to the admission it made room for: at any moment admissions − releases ≤ limit, so cluster-wide the (limit + i)-th admission is the one the i-th release made room for, whoever was admitted. Times are `process.hrtime`, the machine's monotonic clock, the same in every process. **Wait** is from `acquire()` to admission (its p99 shows who is left waiting). **CPU** is the user + system time of the client processes (`process.cpuUsage`) and of Redis (`INFO cpu`) over the run, per acquisition.",
    '',
    "redis-semaphore is used as its README shows: a new `Semaphore` per acquire, waiting by polling every 10 ms (its default `retryInterval`); whoever finds a permit free takes it, including the acquirer that just released one (there is no line). doorman's waiters wait in one FIFO line in Redis and are woken by the grant its release script publishes. Under `load-*` a freed redis-semaphore permit is taken soon (70 pollers poll 7,000 times a second, and releasers re-acquire at once), but by whoever comes first, so some waiters wait far longer (wait p99). With one to three waiters (`few`), a release waits for someone's next poll. A 1 ms hold waits on a timer (like I/O); a 0.1 ms hold is CPU work (the holder spins for that long).",
    '',
    `ioredis clients ${config.pipelining ? 'with' : 'without'} \`enableAutoPipelining\`, alike for every library. \`localHandOff ${LOCAL_HAND_OFF}\` is doorman's opt-in relaxation of FIFO across processes: a released permit goes to a waiter of the releasing process, at most ${LOCAL_HAND_OFF} times in a row, before it goes back to the shared line.`,
    '',
    `Machine: ${machine.cpu}, ${machine.cpus} CPUs, ${machine.memGiB} GiB, ${machine.os}; Node ${machine.node}; Redis ${machine.redis} on loopback (a redis-server of its own); ${machine.date.slice(0, 16).replace('T', ' ')} UTC; commit ${machine.commit}; load average ${machine.loadStart.join(' / ')} at start, ${machine.loadEnd.join(' / ')} at end. ${config.rounds} interleaved rounds of ${config.warmMs / 1000} s warm-up + ${config.measureMs / 1000} s measured, fresh processes each; each cell is the median over rounds, with the range (min–max) in small print. A full run took ${durationS} s.`,
    '',
    '| case | library | acquisitions/s | hand-off p50 (ms) | hand-off p99 (ms) | wait p50 / p99 (ms) | CPU µs per acquisition: clients / Redis |',
    '|---|---|--:|--:|--:|--:|--:|',
  );
  for (const name of config.cases) {
    for (const lib of config.libs) {
      const r = results[lib]?.[name];
      if (r === undefined) continue;
      md.push(
        `| \`${name}\`: ${caseLabel(CASES[name])} | ${LABELS[lib]} | ${fmt(r.perSecond, 0)}${sub(r.perSecondRange, 0)} | ${fmt(r.p50, 3)}${sub(r.p50Range, 3)} | ${fmt(r.p99, 3)}${sub(r.p99Range, 3)} | ${fmt(r.wait50, 1)} / ${fmt(r.wait99, 1)}${sub(r.wait99Range, 1)} | ${fmt(r.clientCpu, 0)} / ${fmt(r.redisCpu, 0)} |`,
      );
    }
  }
  md.push('');
  const targets = [];
  const s = results['redis-semaphore'];
  const variants = ['doorman', 'doorman-handoff'].filter((lib) => results[lib] !== undefined);
  if (s && variants.length > 0) {
    md.push(
      "| case | library | throughput / redis-semaphore's | wait p99, redis-semaphore / this | hand-off p50, redis-semaphore / this |",
      '|---|---|--:|--:|--:|',
    );
    for (const name of config.cases) {
      for (const lib of variants) {
        const d = results[lib][name];
        if (!d || !s[name]) continue;
        md.push(
          `| \`${name}\` | ${LABELS[lib]} | ${fmt(d.perSecond / s[name].perSecond, 2)}x | ${fmt(s[name].wait99 / d.wait99, 1)}x | ${fmt(s[name].p50 / d.p50, 1)}x |`,
        );
      }
    }
    md.push('');
    for (const lib of variants) {
      const a = results[lib]['load-1'];
      const b = s['load-1'];
      if (a && b) {
        targets.push(
          {
            target: `throughput at least redis-semaphore's (\`load-1\`), ${LABELS[lib]}`,
            met: a.perSecond >= b.perSecond,
            detail: `${fmt(a.perSecond, 0)} vs ${fmt(b.perSecond, 0)} acq/s (${fmt(a.perSecond / b.perSecond, 2)}x)`,
          },
          {
            target: `wait p99 at most half of redis-semaphore's (\`load-1\`), ${LABELS[lib]}`,
            met: a.wait99 <= b.wait99 / 2,
            detail: `${fmt(a.wait99, 1)} ms vs ${fmt(b.wait99, 1)} ms`,
          },
        );
      }
      const f = results[lib].few;
      if (f) {
        targets.push({
          target: `few-waiter hand-off p50 under 1 ms (\`few\`), ${LABELS[lib]}`,
          met: f.p50 < 1,
          detail: `${fmt(f.p50, 3)} ms`,
        });
      }
    }
    md.push('#### Targets', '', '| target | met | measured |', '|---|---|---|');
    for (const t of targets) md.push(`| ${t.target} | ${t.met ? 'yes' : '**no**'} | ${t.detail} |`);
    md.push('');
  }
  return { markdown: md.join('\n'), targets };
}
