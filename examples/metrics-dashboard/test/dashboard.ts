import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AdaptiveSemaphore } from '@doorman/adaptive';
import { registerMetrics } from '@doorman/prometheus';
import { RedisSemaphore } from '@doorman/redis';
import { Semaphore } from '@doorman/semaphore';
import { parser } from '@prometheus-io/lezer-promql';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';

export const exampleDir = fileURLToPath(new URL('..', import.meta.url));

interface Target {
  refId: string;
  expr?: string;
}
interface Panel {
  id: number;
  type: string;
  title: string;
  targets?: Target[];
  panels?: Panel[];
}
interface Variable {
  name: string;
  type: string;
  allValue?: string;
  definition?: string;
  query?: string | { query: string };
}
export interface Dashboard {
  title: string;
  uid: string;
  panels: Panel[];
  templating: { list: Variable[] };
}

export function loadDashboard(): Dashboard {
  return JSON.parse(readFileSync(`${exampleDir}/dashboard.json`, 'utf8')) as Dashboard;
}

export interface Expression {
  panel: string;
  refId: string;
  /** As written in the dashboard, with Grafana variables. */
  expr: string;
}

/** Every query of every panel (rows' panels included). */
export function expressionsOf(dashboard: Dashboard): Expression[] {
  const found: Expression[] = [];
  const visit = (panels: Panel[]) => {
    for (const panel of panels) {
      for (const target of panel.targets ?? []) {
        if (target.expr !== undefined) {
          found.push({ panel: panel.title, refId: target.refId, expr: target.expr });
        }
      }
      visit(panel.panels ?? []);
    }
  };
  visit(dashboard.panels);
  return found;
}

/**
 * The PromQL Prometheus would be sent: Grafana's interval variables become a
 * duration and each template variable its "All" value.
 */
export function toPromQL(dashboard: Dashboard, expr: string, rateInterval = '10s'): string {
  let promql = expr
    .replaceAll('$__rate_interval', rateInterval)
    .replaceAll('$__interval', rateInterval)
    .replaceAll('$__range', '5m');
  for (const variable of dashboard.templating.list) {
    if (variable.type !== 'query' && variable.type !== 'custom') continue;
    const all = variable.allValue ?? '.*';
    promql = promql.replaceAll(`\${${variable.name}}`, all).replaceAll(`$${variable.name}`, all);
  }
  if (promql.includes('$')) throw new Error(`An unknown Grafana variable is left in: ${promql}`);
  return promql;
}

/**
 * The metric names a PromQL expression selects, read from the syntax tree
 * of Prometheus's own PromQL grammar. Throws on a syntax error, and on a
 * selector that names no metric (it could match anything).
 */
export function metricNamesOf(promql: string): string[] {
  const tree = parser.parse(promql);
  const names: string[] = [];
  const cursor = tree.cursor();
  do {
    if (cursor.type.isError) {
      throw new Error(`PromQL syntax error at ${cursor.from} in: ${promql}`);
    }
    if (cursor.name !== 'VectorSelector') continue;
    const selector = cursor.node;
    const identifier = selector.getChild('Identifier');
    if (identifier !== null) {
      names.push(promql.slice(identifier.from, identifier.to));
      continue;
    }
    const byName = /__name__\s*=\s*"([^"]*)"/.exec(promql.slice(selector.from, selector.to));
    if (byName?.[1] === undefined) throw new Error(`A selector names no metric in: ${promql}`);
    names.push(byName[1]);
  } while (cursor.next());
  return names;
}

/** The metric names of the template variables' queries, e.g. `label_values(m, limiter)`. */
export function variableMetricNames(dashboard: Dashboard): string[] {
  const names: string[] = [];
  for (const variable of dashboard.templating.list) {
    if (variable.type !== 'query') continue;
    const query = typeof variable.query === 'string' ? variable.query : variable.query?.query;
    const match =
      /^label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s*,\s*[a-zA-Z_]\w*\s*\)$/.exec(
        query ?? '',
      );
    if (match?.[1] === undefined) throw new Error(`Unexpected variable query: ${query}`);
    names.push(match[1]);
  }
  return names;
}

/** The sample names doorman writes, as found in a real exposition, for a local and a Redis limiter. */
export async function exportedNames(): Promise<Set<string>> {
  const registry = new Registry();
  // Never connects: registering reads only the limiter's live numbers.
  const redis = new Redis({ lazyConnect: true });
  const shared = new RedisSemaphore({ redis, key: 'probe-shared', limit: 1 });
  // An adaptive limiter shows its estimates once learned: one window (20 releases).
  const adaptive = new AdaptiveSemaphore({ initialLimit: 1, name: 'probe-adaptive' });
  for (let i = 0; i < 20; i++) (await adaptive.acquire()).release();
  registerMetrics([new Semaphore({ limit: 1, name: 'probe' }), shared, adaptive], { registry });
  redis.disconnect();
  const names = new Set<string>();
  for (const line of (await registry.metrics()).split('\n')) {
    const name = /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line)?.[1];
    if (name !== undefined) names.add(name);
  }
  return names;
}

/** The PromQL examples of @doorman/prometheus's README, one expression each. */
export function readmeExpressions(): string[] {
  const readme = readFileSync(`${exampleDir}/../../packages/prometheus/README.md`, 'utf8');
  const block = /```promql\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
  const expressions: string[] = [];
  for (const line of block.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    if (line.startsWith(' ') && expressions.length > 0) {
      expressions[expressions.length - 1] += ` ${line.trim()}`;
    } else expressions.push(line);
  }
  return expressions;
}
