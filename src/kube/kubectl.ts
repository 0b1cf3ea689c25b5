// Kubectl owns every call to the kubectl binary. Nothing else in Gantry runs kubectl,
// so the number of calls per operation is visible and testable here.
import { GantryError } from '../errors.js';
import { CommandRunner, CommandResult, ExecRunner } from './command.js';

export interface KubectlOptions {
  /** Path to the kubectl binary. */
  binary?: string;
  kubeconfig?: string;
  context?: string;
  runner?: CommandRunner;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

export interface KubeList<T = KubeObject> {
  items: T[];
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
  private readonly kubeconfig?: string;
  private readonly context?: string;
  private readonly runner: CommandRunner;
  /** How many times kubectl has been invoked by this instance. */
  calls = 0;

  constructor(options: KubectlOptions = {}) {
    this.binary = options.binary ?? 'kubectl';
    this.kubeconfig = options.kubeconfig;
    this.context = options.context;
    this.runner = options.runner ?? new ExecRunner();
  }

  private globalArgs(): string[] {
    const args: string[] = [];
    if (this.kubeconfig) args.push('--kubeconfig', this.kubeconfig);
    if (this.context) args.push('--context', this.context);
    return args;
  }

  /** Runs kubectl and returns the raw result, whatever the exit code. */
  async exec(args: string[], input?: string): Promise<CommandResult> {
    this.calls++;
    return this.runner.run(this.binary, [...this.globalArgs(), ...args], { input });
  }

  /** Runs kubectl and throws a KubectlError naming the command when it fails. */
  async run(args: string[], input?: string): Promise<string> {
    const result = await this.exec(args, input);
    if (result.exitCode !== 0) {
      const what = args.filter((a) => !a.startsWith('-')).slice(0, 3).join(' ');
      const detail = result.stderr.trim() || result.stdout.trim() || `exit code ${result.exitCode}`;
      throw new KubectlError(`kubectl ${what} failed: ${detail}`, result);
    }
    return result.stdout;
  }

  async json<T>(args: string[], input?: string): Promise<T> {
    const out = await this.run([...args, '-o', 'json'], input);
    try {
      return JSON.parse(out) as T;
    } catch (err) {
      throw new GantryError(`kubectl ${args.slice(0, 2).join(' ')} returned output that is not JSON`, { cause: err });
    }
  }

  /** Gets one object, or undefined when it does not exist. */
  async get<T = KubeObject>(kind: string, name: string, namespace?: string): Promise<T | undefined> {
    const args = ['get', kind, name, ...(namespace ? ['-n', namespace] : []), '-o', 'json'];
    const result = await this.exec(args);
    if (result.exitCode !== 0) {
      if (/NotFound|not found/.test(result.stderr)) return undefined;
      throw new KubectlError(`kubectl get ${kind}/${name} failed: ${result.stderr.trim()}`, result);
    }
    return JSON.parse(result.stdout) as T;
  }

  async list<T = KubeObject>(kind: string, namespace: string | undefined, selector?: string): Promise<T[]> {
    const args = ['get', kind, ...(namespace ? ['-n', namespace] : ['--all-namespaces'])];
    if (selector) args.push('-l', selector);
    const list = await this.json<KubeList<T>>(args);
    return list.items;
  }
}
