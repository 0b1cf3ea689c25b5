// The reading of one YAML mapping of a gate, shared by every kind's parser: each known field
// read once, typed, and every problem recorded with its exact YAML path. Pure: no cluster code.
import { parseDuration } from '../../config/source.js';
import { GantryError } from '../../errors.js';

/** A bad field of a gate: `path` is where (`steps[2].analysis[0].http.port`), `detail` what is wrong with it. */
export class GateSpecError extends GantryError {
  constructor(readonly path: string, readonly detail: string, hint?: string) {
    super(`${path}: ${detail}`, { title: 'Invalid gate', hint });
    this.name = 'GateSpecError';
  }
}

export type Mapping = Record<string, unknown>;

export const isMapping = (v: unknown): v is Mapping => v !== null && typeof v === 'object' && !Array.isArray(v);

/** A mapping at one YAML path: each known field read once, every problem collected. */
export class Fields {
  constructor(readonly value: Mapping, readonly path: string, readonly errors: GateSpecError[]) {}

  at(key: string): string {
    return `${this.path}.${key}`;
  }

  problem(key: string | undefined, detail: string, hint?: string): void {
    this.errors.push(new GateSpecError(key === undefined ? this.path : this.at(key), detail, hint));
  }

  has(key: string): boolean {
    return Object.hasOwn(this.value, key);
  }

  /** Reports every key not in `known` (a typo must not silently become a default); returns how many. */
  onlyKnown(known: readonly string[], what: string): number {
    const unknown = Object.keys(this.value).filter((key) => !known.includes(key));
    for (const key of unknown) this.problem(key, `is not ${what} field; expected one of ${known.join(', ')}`);
    return unknown.length;
  }

  string(key: string): string | undefined {
    if (!this.has(key)) return undefined;
    const v = this.value[key];
    if (typeof v === 'string' && v.trim() !== '') return v;
    this.problem(key, `must be a non-empty string, got ${show(v)}`);
    return undefined;
  }

  /** A whole number in [min, max]; YAML gives numbers, but a quoted "3" is read as 3 too. */
  wholeNumber(key: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
    if (!this.has(key)) return fallback;
    const n = toWholeNumber(this.value[key]);
    if (n === undefined || n < min || n > max) {
      this.problem(key, `must be a whole number${max === Number.MAX_SAFE_INTEGER ? ` of at least ${min}` : ` from ${min} to ${max}`}, got ${show(this.value[key])}`);
      return fallback;
    }
    return n;
  }

  /** A duration such as 500ms, 2s or 1m; a bare number means seconds, as in pause durations. */
  duration(key: string, fallbackMs: number, minMs: number): number {
    if (!this.has(key)) return fallbackMs;
    const v = this.value[key];
    const ms = typeof v === 'number' ? (v >= 0 ? Math.round(v * 1000) : undefined) : typeof v === 'string' ? parseDuration(v) : undefined;
    if (ms === undefined) {
      this.problem(key, `must be a duration like 500ms, 2s or 1m, got ${show(v)}`);
      return fallbackMs;
    }
    if (ms < minMs) {
      this.problem(key, `must be at least ${minMs}ms, got ${show(v)}`);
      return fallbackMs;
    }
    return ms;
  }
}

export function toWholeNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isInteger(v) ? v : undefined;
  if (typeof v === 'string' && /^\s*\d+\s*$/.test(v)) return Number(v);
  return undefined;
}

export function show(v: unknown): string {
  return v === undefined ? 'nothing' : JSON.stringify(v) ?? String(v);
}

