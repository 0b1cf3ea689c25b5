// The kubectl binary, kept for the one thing whose semantics are kubectl's own product:
// rendering a kustomization directory (`kubectl kustomize`). Every read, write and watch of
// the cluster goes through KubeClient (kube/client.ts) instead, so a deploy of plain YAML
// starts no process at all, and one with kustomize starts one.
import { GantryError } from '../errors.js';
import { BinaryLocator, CommandRunner, CommandResult, ExecRunner } from '../shared/process.js';

export interface KubectlOptions {
  /** Path to the kubectl binary (default `kubectl` on PATH), or how to find (or install) it when first run. */
  binary?: string | BinaryLocator;
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
  private readonly binary: BinaryLocator;
  private readonly runner: CommandRunner;
  /** How many times kubectl has been invoked by this instance. */
  calls = 0;

  constructor(options: KubectlOptions = {}) {
    const binary = options.binary ?? 'kubectl';
    this.binary = typeof binary === 'string' ? async () => binary : binary;
    this.runner = options.runner ?? new ExecRunner();
  }

  /** Runs kubectl and throws a KubectlError naming the command when it fails. */
  async run(args: string[], input?: string): Promise<string> {
    const binary = await this.binary();
    this.calls++;
    const result = await this.runner.run(binary, args, { input });
    if (result.exitCode !== 0) {
      const what = args.filter((a) => !a.startsWith('-')).slice(0, 3).join(' ');
      const detail = result.stderr.trim() || result.stdout.trim() || `exit code ${result.exitCode}`;
      throw new KubectlError(`kubectl ${what} failed: ${detail}`, result);
    }
    return result.stdout;
  }
}
