// The one error type users see. It names the thing, says what happened and what to do,
// and carries an optional file:line so adapters can turn it into an annotation.

export interface ErrorLocation {
  file: string;
  line?: number;
  column?: number;
}

export interface GantryErrorOptions {
  /** What the user should do about it. */
  hint?: string;
  /** Where in the user's files the problem is. */
  location?: ErrorLocation;
  /** A short title for the annotation, e.g. "Invalid input". */
  title?: string;
  cause?: unknown;
}

export class GantryError extends Error {
  readonly hint?: string;
  readonly location?: ErrorLocation;
  readonly title: string;

  constructor(message: string, options: GantryErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GantryError';
    this.hint = options.hint;
    this.location = options.location;
    this.title = options.title ?? 'Gantry';
  }

  /** The full text for a log line or `core.setFailed`. */
  describe(): string {
    const where = this.location ? `${formatLocation(this.location)}: ` : '';
    return `${where}${this.message}${this.hint ? `\n  → ${this.hint}` : ''}`;
  }
}

export function formatLocation(loc: ErrorLocation): string {
  return `${loc.file}${loc.line ? `:${loc.line}` : ''}${loc.line && loc.column ? `:${loc.column}` : ''}`;
}

/** Several errors found in one pass (e.g. every bad input), reported together. */
export class GantryErrors extends GantryError {
  readonly errors: GantryError[];
  constructor(errors: GantryError[]) {
    super(errors.map((e) => e.describe()).join('\n'), { title: errors[0]?.title });
    this.errors = errors;
  }
}

export function toGantryError(err: unknown): GantryError {
  if (err instanceof GantryError) return err;
  if (err instanceof Error) return new GantryError(err.message, { cause: err });
  return new GantryError(String(err));
}
