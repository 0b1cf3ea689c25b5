// Runs a built action bundle (dist/<name>/index.js) as its own process, the way the
// Actions runner does: inputs as INPUT_* variables, outputs through a GITHUB_OUTPUT file.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const REPO_ROOT = resolve(import.meta.dirname, '../..');

export interface BundleRun {
  exitCode: number;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  summary: string;
  /** What the step saved with core.saveState, to hand to a post step as `state`. */
  state: Record<string, string>;
  /** Lines of `::error …::` / `::warning …::` workflow commands in stdout. */
  annotations: string[];
}

export interface BundleOptions {
  inputs?: Record<string, string>;
  env?: Record<string, string>;
  /** Run the post step instead of main (sets STATE_* from a previous run's state file). */
  state?: Record<string, string>;
  timeoutMs?: number;
  /** Called with the child PID once started, e.g. to signal it. */
  onStart?: (pid: number) => void;
}

export function parseCommandFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const [, name, delim] = heredoc;
      const value: string[] = [];
      for (i++; i < lines.length && lines[i] !== delim; i++) value.push(lines[i]!);
      out[name!] = value.join('\n');
    } else if (line.includes('=')) {
      const at = line.indexOf('=');
      out[line.slice(0, at)] = line.slice(at + 1);
    }
  }
  return out;
}

export async function runBundle(name: string, options: BundleOptions = {}): Promise<BundleRun> {
  const dir = mkdtempSync(join(tmpdir(), `gantry-${name}-`));
  const files = { output: join(dir, 'output'), state: join(dir, 'state'), summary: join(dir, 'summary'), env: join(dir, 'env') };
  for (const f of Object.values(files)) writeFileSync(f, '');
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('INPUT_')) env[k] = v;
  Object.assign(env, {
    GITHUB_OUTPUT: files.output,
    GITHUB_STATE: files.state,
    GITHUB_STEP_SUMMARY: files.summary,
    GITHUB_ENV: files.env,
    GITHUB_ACTIONS: 'true',
    RUNNER_TEMP: dir,
  });
  for (const [k, v] of Object.entries(options.inputs ?? {})) env[`INPUT_${k.replace(/ /g, '_').toUpperCase()}`] = v;
  for (const [k, v] of Object.entries(options.state ?? {})) env[`STATE_${k}`] = v;
  Object.assign(env, options.env ?? {});
  const child = spawn(process.execPath, [join(REPO_ROOT, 'dist', name, 'index.js')], { env, cwd: REPO_ROOT });
  options.onStart?.(child.pid!);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
  const exitCode = await new Promise<number>((res) => child.on('close', (code, signal) => res(code ?? (signal ? 128 : 1))));
  clearTimeout(timer);
  return {
    exitCode,
    stdout,
    stderr,
    outputs: parseCommandFile(readFileSync(files.output, 'utf8')),
    summary: readFileSync(files.summary, 'utf8'),
    state: parseCommandFile(readFileSync(files.state, 'utf8')),
    annotations: stdout.split('\n').filter((l) => /^::(error|warning|notice)/.test(l)),
  };
}
