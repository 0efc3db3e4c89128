import { expect, it } from 'vitest';
import {
  checkSoak,
  describeCheckpoint,
  describeClients,
  soakRequests,
  soakTimeoutMs,
} from './checks.js';
import { soak } from './driver.js';

// CI runs a short soak; `pnpm soak` sets SOAK_REQUESTS=1000000.
it(
  `Fastify: ${soakRequests} requests of every fate leave no permit, waiter or heap growth behind`,
  async () => {
    const report = await soak('fastify', {
      requests: soakRequests,
      onCheckpoint: (checkpoint, report) => console.log(describeCheckpoint(checkpoint, report)),
    });
    console.log(describeClients(report));
    expect(report.checkpoints.length).toBeGreaterThan(1);
    checkSoak(report);
  },
  soakTimeoutMs,
);
