// Loaded with `--import` (through NODE_OPTIONS) by the test projects that run
// a suite against an older major of a peer dependency: child processes the
// tests start (fixtures, README snippets) then load the same major as the
// tests themselves. DOORMAN_PEER_ALIASES is JSON: { "ioredis": "ioredis5" }.
import { register } from 'node:module';

const aliases = JSON.parse(process.env.DOORMAN_PEER_ALIASES ?? '{}');
register('./peer-alias-hooks.mjs', import.meta.url, { data: aliases });
