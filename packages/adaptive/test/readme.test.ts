// Every ts and js block of the README compiles under the project's strict
// settings, as written: each is saved as a module inside this package (so its
// imports resolve as in an app) and type-checked with TypeScript itself.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const readme = readFileSync(join(packageDir, 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/^```(ts|js)\n([\s\S]*?)^```/gm)].map(([, lang, code]) => ({
  lang: lang as string,
  code: code as string,
}));
const dir = mkdtempSync(join(packageDir, '.readme-'));

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('the README', () => {
  it('has code blocks, and every one of them compiles under strict TypeScript', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(4);
    const files = blocks.map((block, i) => {
      const file = join(dir, `block-${i + 1}.${block.lang === 'ts' ? 'ts' : 'mjs'}`);
      writeFileSync(file, block.code);
      return file;
    });
    const base = ts.readConfigFile(join(packageDir, '../../tsconfig.base.json'), ts.sys.readFile);
    const parsed = ts.parseJsonConfigFileContent(base.config, ts.sys, dir);
    const program = ts.createProgram(files, {
      ...parsed.options,
      noEmit: true,
      allowJs: true,
      checkJs: true,
      declaration: false,
      declarationMap: false,
      sourceMap: false,
    });
    const problems = ts.getPreEmitDiagnostics(program).map((d) => {
      const where =
        d.file === undefined
          ? ''
          : `${d.file.fileName.slice(dir.length + 1)}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}: `;
      return where + ts.flattenDiagnosticMessageText(d.messageText, '\n');
    });
    expect(problems).toEqual([]);
  });
});
