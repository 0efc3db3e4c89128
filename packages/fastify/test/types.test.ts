import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';

// The hook's types against each Fastify major's own declarations: a Fastify 4
// app resolves `fastify` (also inside this package's types) to Fastify 4.

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(join(packageDir, '..', '..', 'package.json'));
const dir = mkdtempSync(join(packageDir, '.types-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const usage = `
import { concurrencyLimit, Semaphore } from '@doorman/fastify';
import Fastify from 'fastify';

const app = Fastify();
const limit = concurrencyLimit({
  limit: 2,
  skip: (request) => request.url === '/health',
  key: (request) => request.ip,
  async onRejected(error, _request, reply) {
    return reply.code(error.statusCode).headers(error.headers).send({ code: error.code });
  },
});
app.addHook('onRequest', limit);
app.get<{ Params: { id: string } }>('/x/:id', { onRequest: [limit] }, limit.wrap(async (request) => request.params.id));
app.get('/y', { onRequest: concurrencyLimit({ limiter: new Semaphore({ limit: 1 }) }) }, async () => 'y');
export const size: number = limit.limiter.activeKeys;
`;

function diagnostics(fastifyTypes: string): string[] {
  const file = join(dir, `usage-${Math.random().toString(36).slice(2)}.ts`);
  writeFileSync(file, usage);
  const program = ts.createProgram([file], {
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2023.d.ts', 'lib.esnext.disposable.d.ts'],
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    customConditions: ['@doorman/source'],
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: ['node'],
    paths: { fastify: [fastifyTypes] },
  });
  // The declarations in use are the ones asked for, also inside this package's own types.
  const home = realpathSync(dirname(fastifyTypes));
  const stray = program
    .getSourceFiles()
    .filter((f) => f.fileName.includes('/fastify@') && !f.fileName.startsWith(home));
  if (stray.length > 0) return stray.map((f) => `other declarations: ${f.fileName}`);
  return ts
    .getPreEmitDiagnostics(program)
    .map(
      (d) => `${d.file?.fileName ?? ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`,
    );
}

describe('types', () => {
  for (const [name, pkg] of [
    ['fastify 5', 'fastify'],
    ['fastify 4', 'fastify4'],
  ] as const) {
    it(`type-checks app-wide, per-route and wrapped use against ${name}'s own declarations`, () => {
      const types = join(dirname(require.resolve(`${pkg}/package.json`)), 'fastify.d.ts');
      expect(diagnostics(types)).toEqual([]);
    });
  }
});
