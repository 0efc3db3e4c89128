/**
 * The adapter contract: every behaviour DESIGN.md asks of an adapter
 * ("Behaviour every adapter must show", "The request lifecycle"), written
 * once and run against each framework through its `Subject`. After each
 * test the harness lets every held handler go and checks that `inUse` and
 * `waiting` are back to 0 and that acquired === released.
 */
import { describe } from 'vitest';
import { admission } from './admission.js';
import { edges } from './edges.js';
import { fairShares } from './fair-shares.js';
import { harness } from './harness.js';
import { givenLimiter } from './limiter.js';
import { release } from './release.js';
import { responses } from './responses.js';
import { storm } from './storm.js';
import type { Subject } from './subject.js';

export function adapterContract(subject: Subject): void {
  describe(`${subject.name}: adapter contract`, () => {
    const t = harness(subject);
    describe('admission and rejection', () => admission(t));
    describe(
      subject.hasUpstream
        ? 'release, on every path'
        : 'release, on every path (nothing runs before it, so no client can leave before it is reached)',
      () => release(t),
    );
    describe('pipelining, met twice, clients that give up', () => edges(t));
    describe(
      subject.upstreamStartsResponse
        ? 'responses and release outcomes'
        : 'responses and release outcomes (no step before it can start a response)',
      () => responses(t),
    );
    describe('with a given limiter', () => givenLimiter(t));
    describe('fair shares across tenants (`key` with `totalLimit`)', () => fairShares(t));
    describe('storm', () => storm(t));
  });
}
