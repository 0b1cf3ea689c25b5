// What the job and command gates share: the GANTRY_* environment that tells a user's test
// what to test, and the evidence kept from what it printed (the tail as the verdict's
// detail, the last line in its message).
import { serviceRef, type ServiceLike } from '../traffic/workload.js';
import type { GateContext } from './gate.js';

/** The most of a test's output a verdict keeps: its end, where test runners print the summary. */
export const OUTPUT_TAIL_BYTES = 64 * 1024;

/** The longest last line quoted in a verdict's message. */
const LINE_EXCERPT = 120;

/**
 * GANTRY_NAMESPACE, GANTRY_VERSION, and for each role the strategy named (canary, stable,
 * preview, active) GANTRY_<ROLE>_SERVICE and, when `urlOf` can make one, GANTRY_<ROLE>_URL.
 * Each Service is read once, however many roles name it (a first canary step names one
 * Service for all four). Throws when the API server cannot be asked: nothing can be tested then.
 */
export async function targetEnv(ctx: GateContext, urlOf: (service: ServiceLike) => string | undefined): Promise<Record<string, string>> {
  const env: Record<string, string> = { GANTRY_NAMESPACE: ctx.namespace };
  if (ctx.version !== undefined) env.GANTRY_VERSION = ctx.version;
  const read = new Map<string, Promise<ServiceLike | undefined>>();
  for (const [role, name] of Object.entries(ctx.services)) {
    if (!read.has(name)) read.set(name, ctx.client.get<ServiceLike>(serviceRef(ctx.namespace, name)));
    const svc = await read.get(name)!;
    const prefix = `GANTRY_${role.toUpperCase()}`;
    env[`${prefix}_SERVICE`] = name;
    const url = svc === undefined ? undefined : urlOf(svc);
    if (url !== undefined) env[`${prefix}_URL`] = url;
  }
  return env;
}

/** The Service's first port, which is the one a test means when it says "the Service". */
export function firstPort(svc: ServiceLike): number | undefined {
  return svc.spec?.ports?.[0]?.port;
}

/** `5m`, `1m30s`, `45s`, `2.5s`, `300ms`: a duration as users write one. */
export function showDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms % 1000 !== 0) return `${Number((ms / 1000).toFixed(1))}s`;
  const s = ms / 1000;
  const [h, m, sec] = [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60];
  return `${h > 0 ? `${h}h` : ''}${m > 0 ? `${m}m` : ''}${sec > 0 ? `${sec}s` : ''}`;
}

/** The last `limit` bytes of a text, cut at a line start, saying how much before it was left out. */
export function tailOf(text: string, limit = OUTPUT_TAIL_BYTES, droppedBefore = 0): string {
  const whole = text.replace(/\s+$/, '');
  let tail = whole;
  if (Buffer.byteLength(whole) > limit) {
    tail = Buffer.from(whole).subarray(-limit).toString('utf8');
    const nl = tail.indexOf('\n');
    if (nl >= 0) tail = tail.slice(nl + 1);
  }
  const dropped = droppedBefore + Buffer.byteLength(whole) - Buffer.byteLength(tail);
  return dropped > 0 ? `[… ${dropped} bytes before this left out …]\n${tail}` : tail;
}

/** The last line with any text on it, quoted and cut to fit in one line of a verdict; undefined when there is none. */
export function lastLine(text: string): string | undefined {
  const line = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '').at(-1);
  if (line === undefined) return undefined;
  return JSON.stringify(line.length > LINE_EXCERPT ? `${line.slice(0, LINE_EXCERPT - 1)}…` : line);
}

/** Lines as they arrive, only about the last `limit` bytes of them kept: a chatty test must not fill memory. */
export class OutputTail {
  private readonly lines: string[] = [];
  private bytes = 0;
  private dropped = 0;

  constructor(private readonly limit = OUTPUT_TAIL_BYTES) {}

  readonly add = (line: string): void => {
    this.lines.push(line);
    this.bytes += Buffer.byteLength(line) + 1;
    while (this.bytes > this.limit && this.lines.length > 1) {
      const size = Buffer.byteLength(this.lines.shift()!) + 1;
      this.bytes -= size;
      this.dropped += size;
    }
  };

  get empty(): boolean {
    return this.lines.length === 0;
  }

  text(): string {
    return tailOf(this.lines.join('\n'), this.limit, this.dropped);
  }
}
