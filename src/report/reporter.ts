// The Reporter is how the engine talks to its user: log lines, groups, outputs,
// annotations and the job summary. Actions get ActionsReporter; the CLI gets
// ConsoleReporter; tests get MemoryReporter. The engine never imports @actions/core.
import * as core from '@actions/core';
import { ErrorLocation, GantryError, GantryErrors, formatLocation } from '../errors.js';

export interface Reporter {
  info(message: string): void;
  warning(message: string, location?: ErrorLocation): void;
  /** An error line; with a location (and title) it becomes an annotation on that file:line. */
  error(message: string, location?: ErrorLocation, title?: string): void;
  group<T>(name: string, fn: () => Promise<T>): Promise<T>;
  setOutput(name: string, value: string): void;
  /** Registers a value that must never appear in logs. */
  setSecret(value: string): void;
  /** Appends markdown to the job summary (a no-op outside Actions). */
  summary(markdown: string): Promise<void>;
}

export class ActionsReporter implements Reporter {
  info(message: string): void {
    core.info(message);
  }
  warning(message: string, location?: ErrorLocation): void {
    core.warning(message, toAnnotation(location));
  }
  error(message: string, location?: ErrorLocation, title?: string): void {
    core.error(message, toAnnotation(location, title));
  }
  group<T>(name: string, fn: () => Promise<T>): Promise<T> {
    return core.group(name, fn);
  }
  setOutput(name: string, value: string): void {
    core.setOutput(name, value);
  }
  setSecret(value: string): void {
    core.setSecret(value);
  }
  async summary(markdown: string): Promise<void> {
    if (!process.env.GITHUB_STEP_SUMMARY) return;
    await core.summary.addRaw(markdown, true).write();
  }
}

function toAnnotation(loc?: ErrorLocation, title?: string): core.AnnotationProperties | undefined {
  if (!loc) return title ? { title } : undefined;
  return { title, file: loc.file, startLine: loc.line, startColumn: loc.column };
}

/** Plain stdout/stderr, for the CLI. Outputs are printed as `name=value` at the end. */
export class ConsoleReporter implements Reporter {
  readonly outputs: Record<string, string> = {};
  private readonly secrets = new Set<string>();
  constructor(private readonly out: NodeJS.WritableStream = process.stdout, private readonly err: NodeJS.WritableStream = process.stderr) {}
  private mask(text: string): string {
    let t = text;
    for (const s of this.secrets) t = t.split(s).join('***');
    return t;
  }
  info(message: string): void {
    this.out.write(this.mask(message) + '\n');
  }
  warning(message: string, location?: ErrorLocation): void {
    this.err.write(`warning: ${location ? formatLocation(location) + ': ' : ''}${this.mask(message)}\n`);
  }
  error(message: string, location?: ErrorLocation): void {
    this.err.write(`error: ${location ? formatLocation(location) + ': ' : ''}${this.mask(message)}\n`);
  }
  async group<T>(name: string, fn: () => Promise<T>): Promise<T> {
    this.info(`▸ ${name}`);
    return fn();
  }
  setOutput(name: string, value: string): void {
    this.outputs[name] = value;
  }
  setSecret(value: string): void {
    if (value) this.secrets.add(value);
  }
  async summary(): Promise<void> {}
}

/** Records everything, for unit tests. */
export class MemoryReporter implements Reporter {
  readonly lines: string[] = [];
  readonly warnings: { message: string; location?: ErrorLocation }[] = [];
  readonly errors: { message: string; location?: ErrorLocation }[] = [];
  readonly outputs: Record<string, string> = {};
  readonly secrets: string[] = [];
  readonly summaries: string[] = [];
  info(message: string): void {
    this.lines.push(message);
  }
  warning(message: string, location?: ErrorLocation): void {
    this.warnings.push({ message, location });
  }
  error(message: string, location?: ErrorLocation): void {
    this.errors.push({ message, location });
  }
  async group<T>(name: string, fn: () => Promise<T>): Promise<T> {
    this.lines.push(`▸ ${name}`);
    return fn();
  }
  setOutput(name: string, value: string): void {
    this.outputs[name] = value;
  }
  setSecret(value: string): void {
    this.secrets.push(value);
  }
  async summary(markdown: string): Promise<void> {
    this.summaries.push(markdown);
  }
}

/** Reports a failure: one annotation per located error, then the failing message. */
export function reportFailure(reporter: Reporter, err: GantryError): void {
  const parts = err instanceof GantryErrors ? err.errors : [err];
  for (const e of parts) reporter.error(e.describe(), e.location, e.title);
}
