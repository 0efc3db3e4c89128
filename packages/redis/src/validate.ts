// Eager option checks in the core's message style ("Expected `limit` to be an
// integer >= 1, got `0` (number)"). A small copy of the core's helpers, which
// @doorman/semaphore does not export.

export function show(value: unknown): string {
  let text: string;
  if (typeof value === 'string') text = `'${value}'`;
  else if (typeof value === 'function')
    text = value.name ? `[Function ${value.name}]` : '[Function]';
  else if (typeof value === 'bigint') text = `${value}n`;
  else if (typeof value === 'symbol') text = value.toString();
  else if (value !== null && typeof value === 'object') {
    try {
      text = JSON.stringify(value) ?? Object.prototype.toString.call(value);
    } catch {
      text = Object.prototype.toString.call(value);
    }
  } else text = String(value);
  if (text.length > 60) text = `${text.slice(0, 57)}...`;
  return `\`${text}\` (${value === null ? 'null' : typeof value})`;
}

function fail(name: string, expected: string, value: unknown, range: boolean): never {
  const message = `Expected \`${name}\` to be ${expected}, got ${show(value)}`;
  throw range ? new RangeError(message) : new TypeError(message);
}

export function integerAtLeast(name: string, value: unknown, min: number): number {
  const expected = `an integer >= ${min}`;
  if (typeof value !== 'number') fail(name, expected, value, false);
  if (!Number.isInteger(value) || value < min) fail(name, expected, value, true);
  return value;
}

/** An integer >= min, or Infinity (meaning "no bound"). */
export function countOrInfinity(name: string, value: unknown, min: number): number {
  if (value === Number.POSITIVE_INFINITY) return value;
  const expected = `an integer >= ${min} or Infinity`;
  if (typeof value !== 'number') fail(name, expected, value, false);
  if (!Number.isInteger(value) || value < min) fail(name, expected, value, true);
  return value;
}

/** A duration in milliseconds: a number > 0, or Infinity for none. */
export function duration(name: string, value: unknown): number {
  const expected = 'a number of milliseconds > 0';
  if (typeof value !== 'number') fail(name, expected, value, false);
  if (!(value > 0)) fail(name, expected, value, true);
  return value;
}

/** A finite duration in milliseconds, at least `min`. */
export function finiteDuration(name: string, value: unknown, min: number): number {
  const expected = `a finite number of milliseconds >= ${min}`;
  if (typeof value !== 'number') fail(name, expected, value, false);
  if (!(value >= min) || !Number.isFinite(value)) fail(name, expected, value, true);
  return value;
}

export function boolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') fail(name, 'a boolean', value, false);
  return value;
}

export function nonEmptyString(name: string, value: unknown): string {
  if (typeof value !== 'string') fail(name, 'a non-empty string', value, false);
  if (value.length === 0) fail(name, 'a non-empty string', value, true);
  return value;
}

export function plainObject(name: string, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(name, 'an object', value, false);
  }
  return value as Record<string, unknown>;
}

export function optionalFunction<F>(name: string, value: unknown): F | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') fail(name, 'a function', value, false);
  return value as F;
}

/** Catches typos such as `{ limt: 4 }` at construction instead of ignoring them. */
export function knownKeys(name: string, value: object, known: ReadonlySet<string>): void {
  for (const key of Object.keys(value)) {
    if (!known.has(key)) {
      const list = [...known].map((k) => `\`${k}\``).join(', ');
      throw new TypeError(
        `Unknown option \`${key}\` in ${name} (given ${show((value as Record<string, unknown>)[key])}); expected one of ${list}`,
      );
    }
  }
}

export function signal(name: string, value: unknown): AbortSignal {
  if (
    typeof value !== 'object' ||
    value === null ||
    typeof (value as AbortSignal).aborted !== 'boolean' ||
    typeof (value as AbortSignal).addEventListener !== 'function'
  ) {
    fail(name, 'an AbortSignal', value, false);
  }
  return value as AbortSignal;
}
