// Where raw settings come from: action inputs or CLI flags. Parsers in config/ read
// a Source; nothing else in Gantry reads inputs or flags.
import { GantryError, GantryErrors } from '../errors.js';

export interface Source {
  /** The raw value, or undefined when the setting was not given (empty counts as not given). */
  get(name: string): string | undefined;
  /** How the user spells a setting in this source, for error messages: `input "timeout"` or `--timeout`. */
  describe(name: string): string;
}

/** Reads settings from a plain map; used by the CLI and by tests. */
export class MapSource implements Source {
  constructor(private readonly values: Record<string, string | undefined>, private readonly style: 'flag' | 'input' = 'flag') {}
  get(name: string): string | undefined {
    const v = this.values[name];
    return v === undefined || v.trim() === '' ? undefined : v;
  }
  describe(name: string): string {
    return this.style === 'flag' ? `--${name}` : `input "${name}"`;
  }
}

/**
 * Reads settings the way the Actions runner passes them: INPUT_<NAME> environment
 * variables. Same rule as @actions/core's getInput, without the import, so the
 * CLI bundle stays independent of the runner.
 */
export class EnvInputSource implements Source {
  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}
  get(name: string): string | undefined {
    const v = this.env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  }
  describe(name: string): string {
    return `input "${name}"`;
  }
}

/**
 * A Source under other names, for an action that combines two steps whose settings
 * share a name (the all-in-one action's `kube-context` is the deploy step's `context`).
 */
export class RenamedSource implements Source {
  constructor(private readonly source: Source, private readonly names: Record<string, string>) {}
  get(name: string): string | undefined {
    return this.source.get(this.names[name] ?? name);
  }
  describe(name: string): string {
    return this.source.describe(this.names[name] ?? name);
  }
}

/** Collects every problem in one pass so a user fixes all bad inputs at once. */
export class Reader {
  readonly errors: GantryError[] = [];
  constructor(readonly source: Source) {}

  private fail(name: string, message: string, hint?: string): void {
    this.errors.push(new GantryError(`${this.source.describe(name)} ${message}`, { title: 'Invalid input', hint }));
  }

  string(name: string, fallback?: string): string | undefined {
    return this.source.get(name) ?? fallback;
  }

  required(name: string): string {
    const v = this.source.get(name);
    if (v === undefined) {
      this.fail(name, 'is required');
      return '';
    }
    return v;
  }

  bool(name: string, fallback: boolean): boolean {
    const v = this.source.get(name);
    if (v === undefined) return fallback;
    if (/^(true|yes|1|on)$/i.test(v)) return true;
    if (/^(false|no|0|off)$/i.test(v)) return false;
    this.fail(name, `must be true or false, got "${v}"`);
    return fallback;
  }

  int(name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.source.get(name);
    if (v === undefined) return fallback;
    if (!/^-?\d+$/.test(v.trim())) {
      this.fail(name, `must be a whole number, got "${v}"`);
      return fallback;
    }
    const n = Number(v);
    if (n < min || n > max) this.fail(name, `must be between ${min} and ${max}, got ${n}`);
    return n;
  }

  /** A duration such as 90, 90s, 5m or 1h30m, returned in milliseconds. */
  duration(name: string, fallbackMs: number): number {
    const v = this.source.get(name);
    if (v === undefined) return fallbackMs;
    const ms = parseDuration(v);
    if (ms === undefined) {
      this.fail(name, `must be a duration like 90s, 5m or 1h30m, got "${v}"`);
      return fallbackMs;
    }
    return ms;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const v = this.source.get(name);
    if (v === undefined) return fallback;
    if ((allowed as readonly string[]).includes(v)) return v as T;
    this.fail(name, `must be one of ${allowed.join(', ')}, got "${v}"`);
    return fallback;
  }

  /** Newline- or comma-separated list, blank entries dropped. */
  list(name: string): string[] {
    const v = this.source.get(name);
    if (v === undefined) return [];
    return v.split(/\r?\n|,/).map((s) => s.trim()).filter((s) => s !== '' && !s.startsWith('#'));
  }

  /** Newline-separated KEY=VALUE (or KEY: VALUE) pairs. */
  pairs(name: string, separator: '=' | ':' = '='): Record<string, string> {
    const out: Record<string, string> = {};
    const v = this.source.get(name);
    if (v === undefined) return out;
    for (const raw of v.split(/\r?\n/)) {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) continue;
      const at = line.indexOf(separator);
      if (at <= 0) {
        this.fail(name, `has a line without "${separator}": "${line}"`, `write one KEY${separator}VALUE per line`);
        continue;
      }
      out[line.slice(0, at).trim()] = line.slice(at + 1).trim();
    }
    return out;
  }

  /** Adds a custom validation problem. */
  problem(name: string, message: string, hint?: string): void {
    this.fail(name, message, hint);
  }

  /** Throws every problem found, together. */
  done(): void {
    if (this.errors.length === 1) throw this.errors[0];
    if (this.errors.length > 1) throw new GantryErrors(this.errors);
  }
}

export function parseDuration(text: string): number | undefined {
  const t = text.trim();
  if (/^\d+$/.test(t)) return Number(t) * 1000;
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/g;
  let total = 0;
  let consumed = 0;
  for (const m of t.matchAll(re)) {
    if (m.index !== consumed) return undefined;
    consumed += m[0].length;
    const n = Number(m[1]);
    total += m[2] === 'h' ? n * 3_600_000 : m[2] === 'm' ? n * 60_000 : m[2] === 's' ? n * 1000 : n;
  }
  return consumed === t.length && consumed > 0 ? Math.round(total) : undefined;
}
