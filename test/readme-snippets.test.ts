// Every ```ts and ```js block of every README (the root's, packages/*/ and
// examples/*/) compiles under the workspace's strict TypeScript settings
// (tsconfig.base.json: strict, noUncheckedIndexedAccess, NodeNext). Each block
// is written to a folder next to its README, so `@doorman/*` and the peers
// resolve as they do for the package's own code (through the
// `@doorman/source` condition, against the sources), and one tsc program
// checks them all.
//
//   ```ts / ```js          a whole program: compiled as it is, as an ES module
//                          (.mts, or .mjs with checkJs).
//   ```ts fragment         part of a program: compiled the same way after its
//   ```js fragment         preamble, an HTML comment right above the fence
//                          (invisible on the rendered page) whose code, in the
//                          block's language, imports and makes what the block
//                          leaves out (a ts preamble may `declare` instead):
//                            <!-- preamble
//                            import express from 'express';
//                            const app = express();
//                            -->
// JavaScript has no annotations to give, so in js blocks "implicitly has an
// 'any' type" (TS7xxx) is not an error; everything else is as strict.
// The root README's "Contributing" section says the same for contributors.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The READMEs this test reads: found by folder, so a new package's is picked up. */
function readmes(): string[] {
  const found = [join(root, 'README.md')];
  for (const parent of ['packages', 'examples']) {
    for (const entry of readdirSync(join(root, parent), { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const file = join(root, parent, entry.name, 'README.md');
      try {
        readFileSync(file);
        found.push(file);
      } catch {
        // A folder without a README has no blocks.
      }
    }
  }
  return found.sort();
}

const languages = new Map([
  ['ts', 'ts'],
  ['typescript', 'ts'],
  ['js', 'js'],
  ['javascript', 'js'],
]);
const markers = new Set(['fragment']);

interface Block {
  readme: string;
  /** 1-based line of the opening fence. */
  line: number;
  language: 'ts' | 'js';
  fragment: boolean;
  preamble: string | undefined;
  code: string;
  /** Set when the block cannot be checked as written (an unknown marker, a stray preamble). */
  problem?: string;
  file?: string;
  /** Lines written before the block's first line in its file. */
  offset?: number;
}

/** The preamble comment ending right above `index` (blank lines allowed), if any. */
function preambleAbove(lines: string[], index: number): string | undefined {
  let end = index - 1;
  while (end >= 0 && lines[end]?.trim() === '') end--;
  if (lines[end]?.trim() !== '-->') return undefined;
  for (let start = end - 1; start >= 0; start--) {
    const text = lines[start]?.trim() ?? '';
    if (text === '<!-- preamble') return lines.slice(start + 1, end).join('\n');
    if (text.startsWith('<!--') || text.endsWith('-->')) return undefined;
  }
  return undefined;
}

function blocksOf(readme: string): Block[] {
  const lines = readFileSync(readme, 'utf8').split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})(.*)$/.exec(lines[i] ?? '');
    if (open === null) continue;
    const [, indent = '', fence = '', info = ''] = open;
    let end = i + 1;
    while (end < lines.length && (lines[end] ?? '').trim() !== fence) end++;
    const [word = '', ...rest] = info.trim().split(/\s+/);
    const language = languages.get(word.toLowerCase());
    if (language !== undefined) {
      const block: Block = {
        readme: relative(root, readme),
        line: i + 1,
        language: language as 'ts' | 'js',
        fragment: rest.includes('fragment'),
        preamble: preambleAbove(lines, i),
        code: lines
          .slice(i + 1, end)
          .map((line) => (line.startsWith(indent) ? line.slice(indent.length) : line))
          .join('\n'),
      };
      const unknown = rest.filter((marker) => !markers.has(marker));
      if (unknown.length > 0) block.problem = `unknown fence marker(s): ${unknown.join(' ')}`;
      else if (block.preamble !== undefined && !block.fragment) {
        block.problem = 'a preamble above a block not marked `fragment`';
      }
      blocks.push(block);
    }
    i = end;
  }
  return blocks;
}

const blocks = readmes().flatMap(blocksOf);
const folders = new Map<string, string>();
let diagnostics = new Map<string, string[]>();

/** Where a diagnostic points, as README path and line. */
function describeDiagnostic(diagnostic: ts.Diagnostic, block: Block): string {
  const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
  if (diagnostic.file === undefined || diagnostic.start === undefined) return message;
  const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
  const inBlock = line - (block.offset ?? 0);
  const where = inBlock >= 0 ? `${block.readme}:${block.line + 1 + inBlock}` : 'preamble';
  return `${where}: ${message}`;
}

/** TS7005, TS7006, TS7034 ...: the "implicitly has an 'any' type" family, from noImplicitAny. */
const isImplicitAny = (diagnostic: ts.Diagnostic) =>
  diagnostic.code >= 7000 &&
  diagnostic.code < 8000 &&
  ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n').includes('implicitly has');

beforeAll(() => {
  const files: string[] = [];
  for (const [index, block] of blocks.entries()) {
    if (block.problem !== undefined) continue;
    const dir = dirname(join(root, block.readme));
    let folder = folders.get(dir);
    if (folder === undefined) {
      folder = mkdtempSync(join(dir, '.readme-snippets-'));
      folders.set(dir, folder);
    }
    const head = block.fragment ? `${block.preamble ?? ''}\n` : '';
    const ext = block.language === 'ts' ? 'mts' : 'mjs';
    block.file = join(folder, `block-${block.line}-${index}.${ext}`);
    block.offset = head === '' ? 0 : head.split('\n').length - 1;
    mkdirSync(folder, { recursive: true });
    // `export {}` keeps a block without imports a module (own scope, top-level await).
    writeFileSync(block.file, `${head}${block.code}\nexport {};\n`);
    files.push(block.file);
  }

  const base = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.base.json'), undefined, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
      throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
    },
  });
  if (base === undefined) throw new Error('tsconfig.base.json did not parse');
  const program = ts.createProgram(files, {
    ...base.options,
    noEmit: true,
    allowJs: true,
    checkJs: true,
    declaration: false,
    declarationMap: false,
    sourceMap: false,
    composite: false,
    incremental: false,
    typeRoots: [join(root, 'node_modules/@types')],
  });
  diagnostics = new Map(files.map((file) => [file, []]));
  const byFile = new Map(blocks.filter((b) => b.file !== undefined).map((b) => [b.file, b]));
  for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
    const file = diagnostic.file?.fileName;
    const block = file === undefined ? undefined : byFile.get(resolve(file));
    if (block?.file === undefined) {
      // Outside the blocks (a package source, the settings): name it where it is.
      const where = diagnostic.file?.fileName ?? 'settings';
      const list = diagnostics.get('') ?? [];
      list.push(`${where}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')}`);
      diagnostics.set('', list);
    } else if (!(block.language === 'js' && isImplicitAny(diagnostic))) {
      diagnostics.get(block.file)?.push(describeDiagnostic(diagnostic, block));
    }
  }
}, 120_000);

afterAll(() => {
  for (const folder of folders.values()) rmSync(folder, { recursive: true, force: true });
});

describe('README code blocks', () => {
  it('finds the blocks of every README, and nothing outside them fails to compile', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(10);
    expect(new Set(blocks.map((block) => block.readme))).toContain('README.md');
    expect(diagnostics.get('') ?? []).toEqual([]);
  });

  // Each package README shows at least this many examples (they replace the
  // per-package compile tests, whose counts these are).
  const examplesAtLeast: Record<string, number> = {
    'packages/adaptive/README.md': 4,
    'packages/fastify/README.md': 4,
    'packages/http/README.md': 1,
  };
  it('finds the examples each package README shows', () => {
    for (const [readme, least] of Object.entries(examplesAtLeast)) {
      expect(blocks.filter((block) => block.readme === readme).length).toBeGreaterThanOrEqual(
        least,
      );
    }
  });

  for (const block of blocks) {
    const kind = `${block.language}${block.fragment ? ' fragment' : ''}`;
    it(`${block.readme}:${block.line} (${kind}) compiles under strict TypeScript`, () => {
      expect(block.problem).toBeUndefined();
      expect(diagnostics.get(block.file ?? '')).toEqual([]);
    });
  }
});
