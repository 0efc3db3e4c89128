// The packages compile against the types of the older peer majors they
// accept, not only against the newest the workspace installs: a TypeScript
// app on ioredis 5 or prom-client 14 reads our declarations with its own
// peer's types. The peer is pointed at its root alias (`ioredis5`,
// `prom-client14`) through `paths`, for the package's sources and for a small
// app that hands the package that peer's client.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dir = mkdtempSync(join(root, 'test', '.peer-types-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.base.json'), undefined, {
  ...ts.sys,
  onUnRecoverableConfigFileDiagnostic: (d) => {
    throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  },
});

/** The declaration file a package's manifest names. */
function typesOf(name: string): string {
  const folder = join(root, 'node_modules', name);
  const manifest = JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8')) as {
    types?: string;
    typings?: string;
  };
  return join(folder, manifest.types ?? manifest.typings ?? 'index.d.ts');
}

function compile(pkg: string, peer: string, alias: string, app: string): string[] {
  const file = join(dir, `${alias}.mts`);
  writeFileSync(file, app);
  // The sources as root files: reached only through node_modules, TypeScript
  // would treat them as a library's and report nothing in them.
  const program = ts.createProgram([file, join(root, 'packages', pkg, 'src/index.ts')], {
    ...base?.options,
    noEmit: true,
    declaration: false,
    declarationMap: false,
    sourceMap: false,
    typeRoots: [join(root, 'node_modules/@types')],
    paths: { [peer]: [typesOf(alias)] },
  });
  return ts
    .getPreEmitDiagnostics(program)
    .map(
      (d) => `${d.file?.fileName ?? ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`,
    );
}

describe('the packages against the older peer majors’ types', () => {
  it('@doorman/redis with ioredis 5: a Redis and a Cluster client are accepted', () => {
    const app = `import { RedisSemaphore } from '@doorman/redis';
import { Cluster, Redis } from 'ioredis';
export const one = new RedisSemaphore({ redis: new Redis({ lazyConnect: true }), key: 'k', limit: 1 });
export const many = new RedisSemaphore({ redis: new Cluster([], { lazyConnect: true }), key: 'k', limit: 1 });
`;
    expect(compile('redis', 'ioredis', 'ioredis5', app)).toEqual([]);
  }, 60_000);

  it('@doorman/prometheus with prom-client 14: its Registry and AggregatorRegistry are accepted', () => {
    const app = `import { Semaphore } from '@doorman/semaphore';
import { registerMetrics } from '@doorman/prometheus';
import { AggregatorRegistry, Registry } from 'prom-client';
const limiter = new Semaphore({ limit: 1 });
export const a = registerMetrics(limiter, { registry: new Registry() });
export const b = registerMetrics(limiter, { registry: new AggregatorRegistry(), prefix: 'b_' });
`;
    expect(compile('prometheus', 'prom-client', 'prom-client14', app)).toEqual([]);
  }, 60_000);
});
