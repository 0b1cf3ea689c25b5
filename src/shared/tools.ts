// kubectl and helm for runners that lack them, or when a version is pinned: the official
// release (or a mirror's copy), checked against its published sha256 before anything runs
// it, kept in the Actions tool cache (RUNNER_TOOL_CACHE) and put first on PATH.
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import { arch as osArch, tmpdir } from 'node:os';
import { basename, delimiter, dirname, join } from 'node:path';
import * as tc from '@actions/tool-cache';
import { GantryError } from '../errors.js';
import { findExecutable, type BinaryLocator } from './process.js';

export type ToolName = 'kubectl' | 'helm';

/** How one run gets one tool, as the user configured it (config/). */
export interface ToolSettings {
  /** An explicit path (or a name on PATH): used as it is, never downloaded. */
  binary?: string;
  /** A pinned version without the `v` (1.33.13): installed, or taken from the tool cache. */
  version?: string;
  /** Where releases are downloaded from, laid out as the official location is. */
  baseUrl: string;
}

/** The official release locations and the versions installed when none is pinned and none is on PATH. */
export const OFFICIAL_TOOLS: Record<ToolName, { baseUrl: string; version: string }> = {
  kubectl: { baseUrl: 'https://dl.k8s.io/release', version: '1.33.13' },
  helm: { baseUrl: 'https://get.helm.sh', version: '3.19.0' },
};

export interface Release {
  /** The binary itself (kubectl) or the archive holding it (helm). */
  url: string;
  /** The file that publishes its sha256. */
  checksumUrl: string;
  /** For an archive: where the binary is inside it. */
  inArchive?: string;
}

/** Node's names for platforms and CPUs → the release's. */
const OS: Partial<Record<NodeJS.Platform, string>> = { linux: 'linux', darwin: 'darwin' };
const ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' };

/**
 * Where a release of `name` lies under `baseUrl`, for this machine: kubectl as on dl.k8s.io
 * (`<base>/v1.33.13/bin/linux/amd64/kubectl` + `.sha256`), helm as on get.helm.sh
 * (`<base>/helm-v3.19.0-linux-amd64.tar.gz` + `.sha256sum`, the binary in `linux-amd64/`).
 */
export function releaseOf(name: ToolName, version: string, baseUrl: string, platform: NodeJS.Platform = process.platform, cpu: string = osArch()): Release {
  const os = OS[platform];
  const arch = ARCH[cpu];
  if (!os || !arch) {
    throw new GantryError(`${name} cannot be installed on ${platform}/${cpu}: Gantry installs only the linux and darwin releases (amd64, arm64, arm, ppc64le, s390x)`, {
      title: 'Tools', hint: `Install ${name} on the runner and put it on PATH, or give its path in the ${name} setting.`,
    });
  }
  const base = baseUrl.replace(/\/+$/, '');
  if (name === 'kubectl') {
    const url = `${base}/v${version}/bin/${os}/${arch}/kubectl`;
    return { url, checksumUrl: `${url}.sha256` };
  }
  const url = `${base}/helm-v${version}-${os}-${arch}.tar.gz`;
  return { url, checksumUrl: `${url}.sha256sum`, inArchive: `${os}-${arch}/helm` };
}

/**
 * The sha256 a checksum file publishes for `fileName`: kubectl's `.sha256` holds the bare
 * hash, helm's `.sha256sum` is `sha256sum` output (`<hash>  <file>`); a list of several
 * files is searched for the line that names this one.
 */
export function publishedSha256(text: string, fileName: string): string | undefined {
  for (const line of text.split(/\r?\n/)) {
    const m = /^([0-9a-f]{64})(?:\s+\*?(\S+))?$/i.exec(line.trim());
    if (m && (m[2] === undefined || basename(m[2]) === fileName)) return m[1]!.toLowerCase();
  }
  return undefined;
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function download(name: ToolName, version: string, url: string, dest: string): Promise<string> {
  try {
    return await tc.downloadTool(url, dest);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new GantryError(`${name} ${version} could not be downloaded from ${url}: ${why}`, {
      title: 'Tools', cause: err,
      hint: `Check that ${name} ${version} is a released version and that ${name}-base-url serves it, or install ${name} on the runner.`,
    });
  }
}

/**
 * Installs `name` at `version` from `baseUrl` into the tool cache, unless it is there already,
 * and returns the path of its binary. The download is checked against the sha256 the release
 * publishes before it is unpacked, cached or run; a mismatch deletes it and throws.
 */
export async function installTool(name: ToolName, version: string, baseUrl: string, log: (line: string) => void = () => undefined): Promise<string> {
  if (!process.env.RUNNER_TOOL_CACHE) {
    // The Actions runner sets it; the CLI sets its own (entry/cli.ts).
    throw new GantryError(`${name} ${version} cannot be installed: RUNNER_TOOL_CACHE, the tool cache directory, is not set`, { title: 'Tools', hint: `Set RUNNER_TOOL_CACHE to a directory for installed tools, or install ${name} on PATH.` });
  }
  const cached = tc.find(name, version);
  if (cached && (await findExecutable(join(cached, name)))) {
    log(`${name} ${version} from the tool cache: ${join(cached, name)}`);
    return join(cached, name);
  }
  const release = releaseOf(name, version, baseUrl);
  const fileName = basename(new URL(release.url).pathname);
  const work = await fs.mkdtemp(join(process.env.RUNNER_TEMP || tmpdir(), `gantry-${name}-`));
  try {
    // The checksum first: a mirror without it fails before a 50 MB download.
    const sumsFile = await download(name, version, release.checksumUrl, join(work, `${fileName}.checksum`));
    const expected = publishedSha256(await fs.readFile(sumsFile, 'utf8'), fileName);
    if (!expected) {
      throw new GantryError(`${name} ${version}: ${release.checksumUrl} publishes no sha256 for ${fileName}, so the download cannot be checked and is not used`, {
        title: 'Tools', hint: `Serve the release's checksum file beside it, as ${OFFICIAL_TOOLS[name].baseUrl} does.`,
      });
    }
    log(`${name} ${version}: downloading ${release.url}`);
    const file = await download(name, version, release.url, join(work, fileName));
    const actual = await sha256Of(file);
    if (actual !== expected) {
      await fs.rm(file, { force: true });
      throw new GantryError(`${name} ${version}: the sha256 of ${release.url} is ${actual}, but ${release.checksumUrl} publishes ${expected}; the download was deleted, and nothing was run or cached`, {
        title: 'Tools', hint: `The file was altered in transit or the mirror serves another build. Check ${name}-base-url, or remove it to download from ${OFFICIAL_TOOLS[name].baseUrl}.`,
      });
    }
    log(`${name} ${version}: sha256 ${actual} matches ${release.checksumUrl}`);

    let dir: string;
    if (release.inArchive === undefined) {
      await fs.chmod(file, 0o755);
      dir = await tc.cacheFile(file, name, name, version);
    } else {
      const unpacked = await tc.extractTar(file, join(work, 'unpacked'));
      const binary = join(unpacked, release.inArchive);
      if (!(await fs.stat(binary).catch(() => undefined))?.isFile()) {
        throw new GantryError(`${name} ${version}: ${release.url} holds no ${release.inArchive}`, { title: 'Tools', hint: `A mirror must serve the release archive as it is published at ${OFFICIAL_TOOLS[name].baseUrl}.` });
      }
      await fs.chmod(binary, 0o755);
      dir = await tc.cacheFile(binary, name, name, version);
    }
    log(`${name} ${version}: installed in ${dir}`);
    return join(dir, name);
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}

/** What the tools need from where they run: a log, and PATH. */
export interface ToolHost {
  info(message: string): void;
  /** Puts a directory first on PATH for this process (and, in Actions, the job's later steps: core.addPath). */
  addPath(dir: string): void;
}

/** PATH for this process only: the CLI's, and the default. */
export function prependPath(dir: string): void {
  process.env.PATH = [dir, ...(process.env.PATH ?? '').split(delimiter).filter((d) => d !== '' && d !== dir)].join(delimiter);
}

/**
 * The kubectl and helm of one run, each found once: an explicit path as given; a pinned
 * version installed (or from the tool cache); else the one on PATH; else the default version
 * installed. Nothing is looked up or downloaded before it is needed, so a deploy of plain
 * YAML needs neither tool.
 */
export class Tools {
  private readonly resolved = new Map<ToolName, Promise<string>>();

  constructor(private readonly settings: Record<ToolName, ToolSettings>, private readonly host: ToolHost) {}

  /** The binary to run. */
  binary(name: ToolName): Promise<string> {
    let found = this.resolved.get(name);
    if (!found) {
      found = this.locate(name);
      // A failure is not remembered: a later need tries again (and reports it again).
      found.catch(() => this.resolved.delete(name));
      this.resolved.set(name, found);
    }
    return found;
  }

  /** `binary(name)` as a locator for Kubectl and the Helm renderer. */
  locator(name: ToolName): BinaryLocator {
    return () => this.binary(name);
  }

  /**
   * Installs every pinned version now, before the rollout starts: a download or checksum
   * problem fails the step before anything touches the cluster, and command gates and later
   * steps find that version first on PATH.
   */
  async installPinned(): Promise<void> {
    for (const name of Object.keys(this.settings) as ToolName[]) {
      if (this.settings[name].version !== undefined && this.settings[name].binary === undefined) await this.binary(name);
    }
  }

  private async locate(name: ToolName): Promise<string> {
    const s = this.settings[name];
    if (s.binary !== undefined) {
      if (s.version !== undefined) this.host.info(`${name}: ${s.binary} as given; the pinned ${name} ${s.version} is not installed`);
      return s.binary;
    }
    if (s.version === undefined) {
      const onPath = await findExecutable(name);
      if (onPath) return onPath;
    }
    const version = s.version ?? OFFICIAL_TOOLS[name].version;
    if (s.version === undefined) this.host.info(`${name} is not on PATH: installing ${name} ${version}`);
    const binary = await installTool(name, version, s.baseUrl, (line) => this.host.info(line));
    this.host.addPath(dirname(binary));
    return binary;
  }
}
