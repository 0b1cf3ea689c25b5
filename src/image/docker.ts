// Docker owns every call to the docker CLI (build, buildx, push, login, inspect). Nothing
// else in Gantry runs docker, and it runs through an injected CommandRunner.
import { GantryError } from '../errors.js';
import { CommandResult, CommandRunner, ExecRunner } from '../shared/process.js';

export interface DockerOptions {
  binary?: string;
  runner?: CommandRunner;
  /** Extra environment for every call (DOCKER_HOST, DOCKER_CONFIG…), merged over the process's. */
  env?: Record<string, string>;
}

export interface DockerVersion {
  client: string;
  /** The engine's API version, e.g. "1.41". */
  serverApi: string;
  serverVersion: string;
  serverOs: string;
}

export interface LocalImage {
  id: string;
  /** Uncompressed size in the local image store, in bytes. */
  size: number;
}

export class Docker {
  readonly binary: string;
  private readonly runner: CommandRunner;
  private readonly env: Record<string, string>;

  constructor(options: DockerOptions = {}) {
    this.binary = options.binary ?? 'docker';
    this.runner = options.runner ?? new ExecRunner();
    this.env = options.env ?? {};
  }

  /** Runs docker and returns the raw result, whatever the exit code. */
  exec(args: string[], options: { input?: string; env?: Record<string, string>; onLine?: (line: string) => void } = {}): Promise<CommandResult> {
    return this.runner.run(this.binary, args, { input: options.input, env: { ...this.env, ...(options.env ?? {}) }, onLine: options.onLine });
  }

  /** Client and engine versions; fails with a clear message when the engine cannot be reached. */
  async version(): Promise<DockerVersion> {
    const result = await this.exec(['version', '--format', '{{json .}}']);
    let parsed: { Client?: { Version?: string }; Server?: { Version?: string; ApiVersion?: string; Os?: string } | null } = {};
    try {
      parsed = JSON.parse(result.stdout.trim().split('\n')[0] || '{}') as typeof parsed;
    } catch {
      // Older CLIs print plain text on failure; the exit code and stderr below say what happened.
    }
    if (result.exitCode !== 0 || !parsed.Server) {
      const detail = oneLine(result.stderr) || `exit code ${result.exitCode}`;
      throw new GantryError(`Cannot reach the Docker engine: ${detail}`, {
        title: 'Docker',
        hint: 'start Docker on the runner, or set DOCKER_HOST to the engine you want to build with',
      });
    }
    return {
      client: parsed.Client?.Version ?? '',
      serverApi: parsed.Server.ApiVersion ?? '',
      serverVersion: parsed.Server.Version ?? '',
      serverOs: parsed.Server.Os ?? '',
    };
  }

  /** Whether the docker CLI has the buildx plugin. */
  async hasBuildx(): Promise<boolean> {
    const result = await this.exec(['buildx', 'version']);
    return result.exitCode === 0;
  }

  /** `docker login`, with the password on stdin so it never appears in a process list or log. */
  login(registry: string, username: string, password: string): Promise<CommandResult> {
    return this.exec(['login', '--username', username, '--password-stdin', registry], { input: password });
  }

  logout(registry: string): Promise<CommandResult> {
    return this.exec(['logout', registry]);
  }

  push(reference: string): Promise<CommandResult> {
    return this.exec(['push', reference]);
  }

  async inspect(reference: string): Promise<LocalImage | undefined> {
    const result = await this.exec(['image', 'inspect', '--format', '{{json .Id}} {{json .Size}}', reference]);
    if (result.exitCode !== 0) return undefined;
    const [id, size] = result.stdout.trim().split(' ');
    return { id: JSON.parse(id ?? '""') as string, size: Number(size) };
  }
}

/** What went wrong talking to a registry, judged from docker's own words. */
export type RegistryFailure = 'unreachable' | 'unauthorized' | 'other';

export function classifyRegistryFailure(output: string): RegistryFailure {
  const text = output.toLowerCase();
  if (/unauthorized|authentication required|incorrect username or password|access to the resource is denied|\bdenied:|\b401\b|no basic auth credentials|forbidden/.test(text)) {
    return 'unauthorized';
  }
  if (/connection refused|no such host|i\/o timeout|dial tcp|network is unreachable|tls handshake timeout|server gave http response to https client|context deadline exceeded|connection reset|no route to host/.test(text)) {
    return 'unreachable';
  }
  return 'other';
}

export function oneLine(text: string): string {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/^WARNING!|^DEPRECATED|^\s*(BuildKit is|Install the buildx|https:\/\/docs\.docker\.com)/i.test(l))
    .slice(-3)
    .join(' ');
}

/**
 * The CLI's "legacy builder is deprecated … remove DOCKER_BUILDKIT=0" notice is wrong advice
 * here (without buildx, removing it cannot enable BuildKit); the Builder line already says why.
 */
/** Whether a line belongs to that notice, for output streamed line by line. */
export function isLegacyNoticeLine(line: string): boolean {
  return /^DEPRECATED: The legacy builder is deprecated|^\s+(Install the buildx component|BuildKit is currently disabled|https:\/\/docs\.docker\.com\/go\/buildx)|^\s+(environment-variable|Learn more|to build images with BuildKit)/i.test(line);
}

export function withoutLegacyNotice(stderr: string): string {
  return stderr.replace(/^DEPRECATED: The legacy builder is deprecated[^\n]*\n(?:[ \t]+[^\n]*\n?)*\n?/m, '');
}
