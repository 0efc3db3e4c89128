// One benchmark process: CONCURRENCY acquirers share one distributed
// semaphore (doorman's RedisSemaphore or redis-semaphore's Semaphore) with the
// other processes. From `go` until `endAt` each acquirer loops: acquire, note
// when it asked and when it was admitted, hold, note the release time,
// release, and (with thinkMs) pause before its next turn. Times are
// process.hrtime (CLOCK_MONOTONIC, the same clock in every process), in µs.
//
//   node worker.mjs '<json config>'   (spawned by run.mjs, talks over IPC)
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';

const cfg = JSON.parse(process.argv[2]);
// The same client options for every library: auto-pipelining, when asked,
// sends the commands of one event-loop turn in one write.
const redis = new Redis(cfg.redis, { enableAutoPipelining: cfg.pipelining === true });
const nowUs = () => Number(process.hrtime.bigint()) / 1e3;

let acquire;
if (cfg.lib === 'doorman' || cfg.lib === 'doorman-handoff') {
  // The run's snapshot of the built package (see run.mjs), or the workspace's.
  const { RedisSemaphore } = await import(cfg.doormanEntry ?? '@doorman/redis');
  const semaphore = new RedisSemaphore({
    redis,
    key: cfg.key,
    limit: cfg.limit,
    // The opt-in relaxation of strict FIFO across processes (see run.mjs).
    ...(cfg.lib === 'doorman-handoff' ? { localHandOff: cfg.localHandOff } : {}),
  });
  acquire = async () => {
    const permit = await semaphore.acquire();
    return () => permit.release();
  };
  // Connect and subscribe before the clock starts.
  (await semaphore.acquire()).release();
  await semaphore.idle();
} else if (cfg.lib === 'redis-semaphore') {
  const { Semaphore } = await import('redis-semaphore');
  // One instance per acquire, as its README shows; waiting is its default
  // polling (retryInterval 10 ms). A long acquireTimeout so none gives up.
  const options = { acquireTimeout: 120_000, lockTimeout: 10_000 };
  acquire = async () => {
    const semaphore = new Semaphore(redis, cfg.key, cfg.limit, options);
    await semaphore.acquire();
    return () => semaphore.release();
  };
  await redis.ping();
} else {
  throw new Error(`unknown library ${cfg.lib}`);
}

async function hold() {
  if (cfg.holdMs >= 1) {
    // Waiting on I/O: the event loop is free meanwhile.
    await sleep(cfg.holdMs);
    return;
  }
  // Sub-millisecond work is CPU work: the holder computes for that long.
  const until = nowUs() + cfg.holdMs * 1000;
  while (nowUs() < until) {}
}

async function acquirer(endAt, starts, admits, releases) {
  let errors = 0;
  while (nowUs() < endAt) {
    const start = nowUs();
    let release;
    try {
      release = await acquire();
    } catch {
      errors++;
      continue;
    }
    starts.push(start);
    admits.push(nowUs());
    await hold();
    releases.push(nowUs());
    await release();
    // Time between turns, if any: the acquirer is not competing meanwhile.
    if (cfg.thinkMs > 0) await sleep(cfg.thinkMs);
  }
  return errors;
}

process.on('message', async (message) => {
  if (message.type !== 'go') return;
  const starts = [];
  const admits = [];
  const releases = [];
  const wait = (message.startAt - nowUs()) / 1000;
  if (wait > 0) await sleep(wait);
  const cpu = process.cpuUsage();
  const errors = await Promise.all(
    Array.from({ length: cfg.concurrency }, () =>
      acquirer(message.endAt, starts, admits, releases),
    ),
  );
  const used = process.cpuUsage(cpu);
  process.send({
    type: 'done',
    starts,
    admits,
    releases,
    cpuUs: used.user + used.system,
    errors: errors.reduce((a, b) => a + b, 0),
  });
});

// The parent disconnects once it has read `done` (exiting first could beat
// the message to it), or when it ends for any reason: then this ends too.
process.once('disconnect', () => {
  redis.disconnect();
  process.exit(0);
});
process.send({ type: 'ready' });
