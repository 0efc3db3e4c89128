import { describe, it } from 'vitest';
import { useServers, versions } from './helpers.js';
import { expectServerError, type MisbehaviourCase } from './misbehave.js';

const cases: MisbehaviourCase[] = [
  { option: 'key', what: 'throws', misbehaviour: { throws: new Error('no tenant') } },
  { option: 'key', what: 'returns a number', misbehaviour: { returns: 42 } },
  { option: 'key', what: 'returns undefined', misbehaviour: { returns: undefined } },
  { option: 'key', what: 'returns an object', misbehaviour: { returns: { id: 'a' } } },
  { option: 'weight', what: 'throws', misbehaviour: { throws: new Error('no size') } },
  { option: 'weight', what: 'returns a string', misbehaviour: { returns: '2' } },
  { option: 'weight', what: 'returns 0', misbehaviour: { returns: 0 } },
  { option: 'weight', what: 'returns NaN', misbehaviour: { returns: Number.NaN } },
  { option: 'weight', what: 'returns a fraction', misbehaviour: { returns: 0.5 } },
  { option: 'weight', what: 'returns more than the limit', misbehaviour: { returns: 2 } },
  {
    option: 'weight',
    what: 'returns more than the limit, with a key',
    misbehaviour: { returns: 2 },
    keyed: true,
  },
  {
    option: 'weight',
    what: 'throws, with a key',
    misbehaviour: { throws: new Error('no size') },
    keyed: true,
  },
  { option: 'priority', what: 'throws', misbehaviour: { throws: new Error('no rank') } },
  { option: 'priority', what: 'returns a string', misbehaviour: { returns: 'high' } },
  { option: 'priority', what: 'returns NaN', misbehaviour: { returns: Number.NaN } },
  {
    option: 'priority',
    what: 'returns Infinity',
    misbehaviour: { returns: Number.POSITIVE_INFINITY },
  },
  {
    option: 'priority',
    what: 'returns a string, with a key',
    misbehaviour: { returns: 'high' },
    keyed: true,
  },
  { option: 'weight', what: 'returns undefined', misbehaviour: { returns: undefined } },
  { option: 'priority', what: 'returns undefined', misbehaviour: { returns: undefined } },
  { option: 'skip', what: 'throws', misbehaviour: { throws: new Error('no idea') } },
  { option: 'skip', what: "returns a string ('yes')", misbehaviour: { returns: 'yes' } },
  { option: 'skip', what: 'returns undefined', misbehaviour: { returns: undefined } },
  {
    option: 'skip',
    what: 'returns a promise (an async function)',
    misbehaviour: { returns: Promise.resolve(true) },
  },
];

describe.each(versions)('%s: misbehaving option functions at request time', (_label, express) => {
  const listen = useServers();

  it.each(cases.map((c) => [c.option, c.what, c] as const))(
    '`%s` that %s: 500 through the error path, no permit leaked',
    async (_option, _what, c) => {
      await expectServerError(express, listen, c);
    },
  );
});
