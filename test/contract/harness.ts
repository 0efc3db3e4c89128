import { afterEach, expect } from 'vitest';
import { RecordingLimiter, Stage, waitUntil } from '../kit/index.js';
import type { Built, ContractOptions, Setup, Subject } from './subject.js';

/** What a contract test builds through, so that the checks after it see everything. */
export interface Harness {
  readonly subject: Subject;
  /** A stage this test holds handlers on; opened after the test. */
  stage(): Stage;
  /** Builds a server of the subject; checked and closed after the test. */
  build(options: ContractOptions, setup: Setup): Promise<Built>;
}

/**
 * Registers the checks every contract test ends with: once every held
 * handler is let go, `inUse` and `waiting` are back to 0 and the counters
 * balance (acquired === released); a recording limiter saw each of its
 * permits released exactly once. Then the servers close.
 */
export function harness(subject: Subject): Harness {
  const stages: Stage[] = [];
  const built: Array<{ server: Built; options: ContractOptions }> = [];
  afterEach(async () => {
    for (const stage of stages.splice(0)) stage.openAll();
    const servers = built.splice(0);
    try {
      for (const { server, options } of servers) {
        const { limiter } = server;
        await waitUntil(
          () => limiter.inUse === 0 && limiter.waiting === 0,
          'inUse and waiting are back to 0 after the test',
          { seen: () => ({ inUse: limiter.inUse, waiting: limiter.waiting, ...limiter.counters }) },
        );
        const { acquired, released } = limiter.counters;
        expect({ acquired, released }, 'counters balance after the test').toEqual({
          acquired,
          released: acquired,
        });
        if (options.limiter instanceof RecordingLimiter) {
          const twice = options.limiter.permits.filter((p) => p.releases !== 1);
          expect(twice, 'every permit released exactly once').toEqual([]);
        }
      }
    } finally {
      await Promise.all(servers.map(({ server }) => server.close()));
    }
  });
  return {
    subject,
    stage() {
      const stage = new Stage();
      stages.push(stage);
      return stage;
    },
    async build(options, setup) {
      const server = await subject.build(options, setup);
      built.push({ server, options });
      return server;
    },
  };
}
