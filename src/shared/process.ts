// The seam through which every external process runs. Production code uses
// ExecRunner (@actions/exec); unit tests pass an in-memory fake instead.
import * as exec from '@actions/exec';

export interface CommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Written to the process's stdin. */
  input?: string;
  /** Extra environment, merged over process.env. */
  env?: Record<string, string>;
  cwd?: string;
  /** Called with each line of stdout and stderr as it arrives, for long commands whose log the user should watch live. */
  onLine?: (line: string) => void;
}

export interface CommandRunner {
  run(command: string, args: string[], options?: RunOptions): Promise<CommandResult>;
}

export class ExecRunner implements CommandRunner {
  async run(command: string, args: string[], options: RunOptions = {}): Promise<CommandResult> {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
    Object.assign(env, options.env ?? {});
    const result = await exec.getExecOutput(command, args, {
      input: options.input === undefined ? undefined : Buffer.from(options.input),
      env,
      cwd: options.cwd,
      silent: true,
      ignoreReturnCode: true,
      listeners: options.onLine ? { stdline: options.onLine, errline: options.onLine } : undefined,
    });
    return { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr };
  }
}
