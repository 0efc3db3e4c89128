// An app imports only its adapter (`@doorman/express`, `@doorman/koa`, ...),
// and matches doorman's rejections from it: every adapter, and
// @doorman/http they are built on, exports the error classes, `isDoormanError`
// and the `DoormanErrorCode` type, the very ones of @doorman/semaphore.
// Adapters are found by folder: any package that depends on @doorman/http.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DoormanError,
  isDoormanError,
  LimiterClosedError,
  LimiterUnavailableError,
  QueueFullError,
  QueueTimeoutError,
} from '@doorman/semaphore';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

interface Manifest {
  name: string;
  dependencies?: Record<string, string>;
}

const adapters = readdirSync(join(root, 'packages'))
  .map((dir) => {
    try {
      return JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8'));
    } catch {
      return undefined;
    }
  })
  .filter(
    (manifest): manifest is Manifest =>
      manifest !== undefined &&
      (manifest.name === '@doorman/http' || manifest.dependencies?.['@doorman/http'] !== undefined),
  )
  .map((manifest) => manifest.name)
  .sort();

const core = {
  DoormanError,
  QueueFullError,
  QueueTimeoutError,
  LimiterClosedError,
  LimiterUnavailableError,
  isDoormanError,
};

describe('the errors every adapter exports', () => {
  it('finds @doorman/http and the Express and Koa adapters', () => {
    expect(adapters).toEqual(
      expect.arrayContaining(['@doorman/express', '@doorman/http', '@doorman/koa']),
    );
  });

  for (const adapter of adapters) {
    it(`${adapter} exports the error classes and isDoormanError of @doorman/semaphore`, async () => {
      const exported = (await import(adapter)) as Record<string, unknown>;
      for (const [name, value] of Object.entries(core)) {
        expect(exported[name], `${adapter} exports ${name}`).toBe(value);
      }
      const matches = exported['isDoormanError'] as typeof isDoormanError;
      const QueueFull = exported['QueueFullError'] as typeof QueueFullError;
      expect(matches(new QueueFull('api', 0), 'QUEUE_FULL')).toBe(true);
    });
  }

  it('each exports the DoormanErrorCode type, the same union as the core’s', () => {
    const dir = mkdtempSync(join(root, 'test', '.adapter-exports-'));
    try {
      const file = join(dir, 'codes.mts');
      // Each adapter's DoormanErrorCode must be assignable to the core's and back.
      const lines = [
        "import type { DoormanErrorCode as Core } from '@doorman/semaphore';",
        ...adapters.flatMap((adapter, i) => [
          `import type { DoormanErrorCode as A${i}, DoormanError as E${i} } from '${adapter}';`,
          `export const toCore${i}: Core[] = [] as A${i}[];`,
          `export const fromCore${i}: A${i}[] = [] as Core[];`,
          `export const code${i}: A${i} = ({} as E${i}).code;`,
        ]),
      ];
      writeFileSync(file, `${lines.join('\n')}\n`);
      const config = ts.getParsedCommandLineOfConfigFile(
        join(root, 'tsconfig.base.json'),
        undefined,
        {
          ...ts.sys,
          onUnRecoverableConfigFileDiagnostic: (d) => {
            throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
          },
        },
      );
      const program = ts.createProgram([file], {
        ...config?.options,
        noEmit: true,
        declaration: false,
        declarationMap: false,
        sourceMap: false,
        typeRoots: [join(root, 'node_modules/@types')],
      });
      const errors = ts
        .getPreEmitDiagnostics(program)
        .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      expect(errors).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
