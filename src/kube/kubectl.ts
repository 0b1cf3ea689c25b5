// The kubectl binary, kept for the one thing whose semantics are kubectl's own product:
// rendering a kustomization directory (`kubectl kustomize`). Every read, write and watch of
// the cluster goes through KubeClient (kube/client.ts) instead, so a deploy of plain YAML
// starts no process at all, and one with kustomize starts one.
import { GantryError } from '../errors.js';
import { CommandRunner, CommandResult, ExecRunner } from '../shared/process.js';

export interface KubectlOptions {
  /** Path to the kubectl binary. */
  binary?: string;
  runner?: CommandRunner;
}

export class KubectlError extends GantryError {
  readonly result: CommandResult;
  constructor(message: string, result: CommandResult, hint?: string) {
    super(message, { hint, title: 'kubectl' });
    this.result = result;
  }
}

export class Kubectl {
  readonly binary: string;
  private readonly runner: CommandRunner;
  /** How many times kubectl has been invoked by this instance. */
  calls = 0;

  constructor(options: KubectlOptions = {}) {
    this.binary = options.binary ?? 'kubectl';
    this.runner = options.runner ?? new ExecRunner();
  }

  /** Runs kubectl and throws a KubectlError naming the command when it fails. */
  async run(args: string[], input?: string): Promise<string> {
    this.calls++;
    const result = await this.runner.run(this.binary, args, { input });
    if (result.exitCode !== 0) {
      const what = args.filter((a) => !a.startsWith('-')).slice(0, 3).join(' ');
      const detail = result.stderr.trim() || result.stdout.trim() || `exit code ${result.exitCode}`;
      throw new KubectlError(`kubectl ${what} failed: ${detail}`, result);
    }
    return result.stdout;
  }
}
