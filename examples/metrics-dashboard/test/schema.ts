import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { exampleDir } from './dashboard.js';

// Grafana's published dashboard types (`Dashboard` of @grafana/schema) check
// the dashboard as the TypeScript compiler would: the JSON becomes an object
// literal that must satisfy `Dashboard`, so a field of the wrong type, a
// misspelled field or a variable type Grafana does not know is an error. An
// import of the .json file would not do: TypeScript widens its strings, so
// `"type": "query"` could not be told from `"type": "querry"`.

const options: ts.CompilerOptions = {
  strict: true,
  noEmit: true,
  skipLibCheck: true,
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  types: [],
};
/** A file that does not exist on disk, where @grafana/schema resolves as for any test here. */
const checkFile = join(exampleDir, 'test', 'dashboard.schema-check.ts');
const host = ts.createCompilerHost(options);
const cache = new Map<string, ts.SourceFile | undefined>();
const readSource = host.getSourceFile.bind(host);
let source = '';
host.getSourceFile = (name, language) => {
  if (name === checkFile) return ts.createSourceFile(name, source, language);
  if (!cache.has(name)) cache.set(name, readSource(name, language));
  return cache.get(name);
};
const exists = host.fileExists.bind(host);
host.fileExists = (name) => name === checkFile || exists(name);
const read = host.readFile.bind(host);
host.readFile = (name) => (name === checkFile ? source : read(name));

export function dashboardText(): string {
  return readFileSync(join(exampleDir, 'dashboard.json'), 'utf8');
}

/** The compiler's errors for `json` as a Grafana `Dashboard`; none when it fits. */
export function schemaErrors(json: string): string[] {
  JSON.parse(json); // it must be JSON first
  source = `import type { Dashboard } from '@grafana/schema';\nexport const dashboard = ${json.trim()} satisfies Dashboard;\n`;
  const program = ts.createProgram([checkFile], options, host);
  return ts
    .getPreEmitDiagnostics(program)
    .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}
