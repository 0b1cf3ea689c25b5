// What the integration tests of rollouts share: namespaces removed after each test, a
// reporter whose lines carry the time they were written (to measure from a decision), and
// a strategy command run in-process on the settings a user would give.
import { execFileSync } from 'node:child_process';
import { afterEach } from 'vitest';
import { parseConfig } from '../../src/config/deploy.js';
import { MapSource } from '../../src/config/source.js';
import { ApiClient } from '../../src/kube/api-client.js';
import { MemoryReporter } from '../../src/report/reporter.js';
import type { RolloutOutcome } from '../../src/strategies/basic.js';
import type { deploy } from '../../src/strategies/commands.js';
import { uniqueName } from './stack.js';

const kubectl = (...args: string[]): string => execFileSync('kubectl', args, { encoding: 'utf8', stdio: 'pipe' });

/** A namespace maker for one test file: each namespace made is deleted after its test. */
export function testNamespaces(): (prefix: string) => string {
  const made: string[] = [];
  afterEach(() => {
    for (const ns of made.splice(0)) kubectl('delete', 'namespace', ns, '--wait=false', '--ignore-not-found');
  });
  return (prefix) => {
    const ns = uniqueName(prefix);
    kubectl('create', 'namespace', ns);
    made.push(ns);
    return ns;
  };
}

/** A reporter whose lines carry the time they were written. */
export class TimedReporter extends MemoryReporter {
  readonly times: { at: number; line: string }[] = [];
  override info(message: string): void {
    super.info(message);
    this.times.push({ at: Date.now(), line: message });
  }
  /** When the first line matching `re` was written. */
  at(re: RegExp): number {
    const t = this.times.find((x) => re.test(x.line));
    if (!t) throw new Error(`no line matches ${re}:\n${this.lines.join('\n')}`);
    return t.at;
  }
}

/** Runs deploy, promote or abort as the CLI would: settings (app web, manifests k8s, timeout 120s unless given) → config → command. */
export async function runCommand(
  name: 'deploy' | 'promote' | 'abort',
  command: typeof deploy,
  ws: string,
  settings: Record<string, string>,
  reporter = new TimedReporter(),
): Promise<{ outcome: RolloutOutcome; reporter: TimedReporter }> {
  const config = parseConfig(name, new MapSource({ manifests: 'k8s', app: 'web', timeout: '120s', ...settings }), { GITHUB_WORKSPACE: ws });
  const client = ApiClient.fromConfig();
  try {
    return { outcome: await command(config, { client, reporter }), reporter };
  } finally {
    client.close();
  }
}
