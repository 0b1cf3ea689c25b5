// The command gate: a shell command on the runner (the end-to-end suite in the checkout),
// told what to test through GANTRY_* variables. Its URLs are the Services' ClusterIPs:
// runners on the cluster network reach them, and the DNS names of the cluster are not
// known outside it. Exit 0 passes; any other exit, or outliving its timeout, fails with
// the end of its output as evidence; a command that cannot even start is an error.
import { systemClock } from '../kube/wait.js';
import { ExecRunner } from '../shared/process.js';
import { verdictOf, type Gate, type GateContext, type Verdict } from './gate.js';
import type { CommandCheckSpec } from './spec/command.js';
import type { ServiceLike } from '../traffic/workload.js';
import { OUTPUT_TAIL_BYTES, OutputTail, firstPort, lastLine, showDuration, tailOf, targetEnv } from './test-run.js';

/** The longest command shown in a gate's default name. */
const NAME_EXCERPT = 40;

/** `command npm run e2e`: the command's first line, cut short. */
export function commandGateName(spec: CommandCheckSpec): string {
  const line = spec.run.trim().split('\n')[0]!.trim();
  return `command ${line.length > NAME_EXCERPT ? `${line.slice(0, NAME_EXCERPT - 1).trimEnd()}…` : line}`;
}

/** `http://10.96.12.7:80`: the Service's ClusterIP and first port; none for a headless Service. */
function clusterIpUrl(svc: ServiceLike): string | undefined {
  const ip = svc.spec?.clusterIP;
  const port = firstPort(svc);
  if (typeof ip !== 'string' || ip === '' || ip === 'None' || port === undefined) return undefined;
  return `http://${ip.includes(':') ? `[${ip}]` : ip}:${port}`;
}

/**
 * bash as a `run:` step with `shell: bash` runs: no profile, stop at the first failing
 * command (-e), and a pipeline fails when any part of it does (-o pipefail).
 */
export const BASH_ARGS = ['--noprofile', '--norc', '-eo', 'pipefail', '-c'] as const;

export class CommandGate implements Gate {
  constructor(readonly spec: CommandCheckSpec, readonly name: string = commandGateName(spec)) {}

  /** `exit code == 0 within 10m`. */
  get condition(): string {
    return `exit code == 0 within ${showDuration(this.spec.timeoutMs)}`;
  }

  async measure(ctx: GateContext): Promise<Verdict> {
    const clock = ctx.clock ?? systemClock;
    const verdict = verdictOf(this, clock);
    let env: Record<string, string>;
    try {
      env = { ...(await targetEnv(ctx, clusterIpUrl)), ...this.spec.env };
    } catch (err) {
      return verdict('error', `could not read the Services to test from the API server: ${err instanceof Error ? err.message : String(err)}`);
    }
    const output = new OutputTail();
    const runner = ctx.runner ?? new ExecRunner();
    let result;
    try {
      result = await runner.run('bash', [...BASH_ARGS, this.spec.run], {
        cwd: ctx.workspace ?? process.cwd(), env, onLine: output.add, timeoutMs: this.spec.timeoutMs, signal: ctx.signal, keepLast: OUTPUT_TAIL_BYTES,
      });
    } catch (err) {
      // bash missing, the checkout gone, or the run stopped before the command started.
      return verdict('error', err instanceof Error ? err.message : String(err));
    }
    // stdout and stderr interleaved as they came; a runner that does not stream lines still returns them apart.
    const text = output.empty ? tailOf([result.stdout, result.stderr].filter((s) => s !== '').join('\n')) : output.text();
    const last = lastLine(text);
    const detail = text === '' ? undefined : text;
    if (result.stopped === 'aborted') return verdict('error', 'stopped before the command finished', { detail });
    if (result.stopped === 'timeout') {
      return verdict('fail', `did not finish within ${showDuration(this.spec.timeoutMs)}${last ? `; last line ${last}` : ''}`, { detail });
    }
    if (result.exitCode === 0) return verdict('pass', 'exit code 0', { value: '0' });
    return verdict('fail', `exit code ${result.exitCode}: ${last ?? 'no output'}`, { value: String(result.exitCode), detail });
  }
}
