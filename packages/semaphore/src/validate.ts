// Eager option checks. Each message names the option and shows the value and
// its type, e.g. "Expected `limit` to be an integer >= 1, got `0` (number)".

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
  return `\`${text}\` (${value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value})`;
}

export function integerAtLeast(name: string, value: unknown, min: number): number {
  if (typeof value !== 'number') {
    throw new TypeError(`Expected \`${name}\` to be an integer >= ${min}, got ${show(value)}`);
  }
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(`Expected \`${name}\` to be an integer >= ${min}, got ${show(value)}`);
  }
  return value;
}

/** An integer >= min, or Infinity (meaning "no bound"). */
export function countOrInfinity(name: string, value: unknown, min: number): number {
  if (value === Number.POSITIVE_INFINITY) return value;
  if (typeof value !== 'number') {
    throw new TypeError(
      `Expected \`${name}\` to be an integer >= ${min} or Infinity, got ${show(value)}`,
    );
  }
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(
      `Expected \`${name}\` to be an integer >= ${min} or Infinity, got ${show(value)}`,
    );
  }
  return value;
}

/** A duration in milliseconds: a finite number > 0, or Infinity for none. */
export function duration(name: string, value: unknown): number {
  if (typeof value !== 'number') {
    throw new TypeError(
      `Expected \`${name}\` to be a number of milliseconds > 0, got ${show(value)}`,
    );
  }
  if (!(value > 0)) {
    throw new RangeError(
      `Expected \`${name}\` to be a number of milliseconds > 0, got ${show(value)}`,
    );
  }
  return value;
}

export function finiteNumber(name: string, value: unknown): number {
  if (typeof value !== 'number') {
    throw new TypeError(`Expected \`${name}\` to be a finite number, got ${show(value)}`);
  }
  if (!Number.isFinite(value)) {
    throw new RangeError(`Expected \`${name}\` to be a finite number, got ${show(value)}`);
  }
  return value;
}

export function oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T {
  const list = allowed.map((a) => `'${a}'`).join(' or ');
  if (typeof value !== 'string') {
    throw new TypeError(`Expected \`${name}\` to be ${list}, got ${show(value)}`);
  }
  if (!(allowed as readonly string[]).includes(value)) {
    throw new RangeError(`Expected \`${name}\` to be ${list}, got ${show(value)}`);
  }
  return value as T;
}

export function nonEmptyString(name: string, value: unknown): string {
  if (typeof value !== 'string') {
    throw new TypeError(`Expected \`${name}\` to be a non-empty string, got ${show(value)}`);
  }
  if (value.length === 0) {
    throw new RangeError(`Expected \`${name}\` to be a non-empty string, got ${show(value)}`);
  }
  return value;
}

export function plainObject(name: string, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`Expected \`${name}\` to be an object, got ${show(value)}`);
  }
  return value as Record<string, unknown>;
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

export function optionalFunction<F>(name: string, value: unknown): F | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') {
    throw new TypeError(`Expected \`${name}\` to be a function, got ${show(value)}`);
  }
  return value as F;
}

export function signal(name: string, value: unknown): AbortSignal {
  if (
    typeof value !== 'object' ||
    value === null ||
    typeof (value as AbortSignal).aborted !== 'boolean' ||
    typeof (value as AbortSignal).addEventListener !== 'function'
  ) {
    throw new TypeError(`Expected \`${name}\` to be an AbortSignal, got ${show(value)}`);
  }
  return value as AbortSignal;
}
