// kubectl and helm installed when absent or pinned: downloaded from a local release server
// (laid out as dl.k8s.io and get.helm.sh), checked against the published sha256 before they
// run, cached in RUNNER_TOOL_CACHE and put on PATH. The binaries served are small shell
// programs, so this runs anywhere; test/integration/tools.test.ts serves the real kubectl and helm.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import * as tc from '@actions/tool-cache';
import { parseConfig } from '../../src/config/deploy.js';
import { MapSource } from '../../src/config/source.js';
import { GantryError, GantryErrors } from '../../src/errors.js';
import { Kubectl } from '../../src/kube/kubectl.js';
import { loadManifests } from '../../src/kube/manifests.js';
import { MemoryReporter } from '../../src/report/reporter.js';
import { deploy } from '../../src/strategies/commands.js';
import { findExecutable } from '../../src/shared/process.js';
import { OFFICIAL_TOOLS, Tools, publishedSha256, releaseOf, type ToolName, type ToolSettings } from '../../src/shared/tools.js';
import { FakeCluster } from '../fixtures/deploy/fake-cluster.js';
import { ReleaseServer } from '../fixtures/tools/release-server.js';
import { RecordingRunner } from '../fixtures/tools/recording-runner.js';

const CONFIGMAP = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: rendered\ndata:\n  by: TOOL\n';

/**
 * A stand-in kubectl or helm: a real executable that prints its version, renders one
 * ConfigMap for `kustomize` / `template`, and leaves a mark when it runs at all.
 */
function program(name: ToolName, version: string, ranMarker: string): Buffer {
  return Buffer.from(`#!/bin/sh
touch '${ranMarker}'
case "$1" in
  version) echo '${name} v${version} (test build)' ;;
  kustomize|template) printf '%s' '${CONFIGMAP.replace('TOOL', name)}' ;;
  *) echo "unexpected: $*" >&2; exit 2 ;;
esac
`);
}


let server: ReleaseServer;
let dir: string;
let marker: string;
const saved = { ...process.env };

beforeAll(async () => {
  server = await new ReleaseServer().start();
});
afterAll(() => server.close());

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gantry-tools-'));
  mkdirSync(join(dir, 'cache'));
  mkdirSync(join(dir, 'temp'));
  process.env.RUNNER_TOOL_CACHE = join(dir, 'cache');
  process.env.RUNNER_TEMP = join(dir, 'temp');
  marker = join(dir, 'ran');
  server.requests.length = 0;
});
afterEach(() => {
  for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
  Object.assign(process.env, saved);
  rmSync(dir, { recursive: true, force: true });
});

/** A PATH with tar and gzip (the helm tarball is unpacked with them) and neither kubectl nor helm. */
async function pathWithoutTools(): Promise<string> {
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  for (const tool of ['tar', 'gzip']) symlinkSync((await findExecutable(tool))!, join(bin, tool));
  return bin;
}

function settings(over: Partial<Record<ToolName, Partial<ToolSettings>>> = {}): Record<ToolName, ToolSettings> {
  return {
    kubectl: { baseUrl: server.base('kubectl'), ...over.kubectl },
    helm: { baseUrl: server.base('helm'), ...over.helm },
  };
}

function host() {
  const lines: string[] = [];
  const paths: string[] = [];
  return { lines, paths, info: (l: string) => lines.push(l), addPath: (d: string) => paths.push(d) };
}

describe('release locations', () => {
  it.each([
    ['kubectl', 'https://dl.k8s.io/release', 'linux', 'x64', 'https://dl.k8s.io/release/v1.33.13/bin/linux/amd64/kubectl', 'https://dl.k8s.io/release/v1.33.13/bin/linux/amd64/kubectl.sha256', undefined],
    ['kubectl', 'https://mirror.example/k8s/', 'darwin', 'arm64', 'https://mirror.example/k8s/v1.33.13/bin/darwin/arm64/kubectl', 'https://mirror.example/k8s/v1.33.13/bin/darwin/arm64/kubectl.sha256', undefined],
    ['helm', 'https://get.helm.sh', 'linux', 'x64', 'https://get.helm.sh/helm-v3.19.0-linux-amd64.tar.gz', 'https://get.helm.sh/helm-v3.19.0-linux-amd64.tar.gz.sha256sum', 'linux-amd64/helm'],
    ['helm', 'https://mirror.example/helm', 'linux', 'arm64', 'https://mirror.example/helm/helm-v3.19.0-linux-arm64.tar.gz', 'https://mirror.example/helm/helm-v3.19.0-linux-arm64.tar.gz.sha256sum', 'linux-arm64/helm'],
  ] as const)('%s from %s on %s/%s is the official layout', (name, base, platform, cpu, url, checksumUrl, inArchive) => {
    const version = name === 'kubectl' ? '1.33.13' : '3.19.0';
    expect(releaseOf(name, version, base, platform, cpu)).toEqual({ url, checksumUrl, ...(inArchive ? { inArchive } : {}) });
  });

  it('the defaults are the official locations', () => {
    expect(OFFICIAL_TOOLS.kubectl.baseUrl).toBe('https://dl.k8s.io/release');
    expect(OFFICIAL_TOOLS.helm.baseUrl).toBe('https://get.helm.sh');
  });

  it('a platform without a release is a clear error', () => {
    expect(() => releaseOf('kubectl', '1.33.13', 'https://dl.k8s.io/release', 'win32', 'x64')).toThrow('kubectl cannot be installed on win32/x64');
  });

  it.each([
    ['a bare hash (kubectl .sha256)', `${'A'.repeat(64)}\n`, 'a'.repeat(64)],
    ['sha256sum output (helm .sha256sum)', `${'b'.repeat(64)}  helm-v3.19.0-linux-amd64.tar.gz\n`, 'b'.repeat(64)],
    ['a list of several files', `${'c'.repeat(64)}  helm-v3.19.0-darwin-arm64.tar.gz\n${'d'.repeat(64)} *helm-v3.19.0-linux-amd64.tar.gz\n`, 'd'.repeat(64)],
    ['a list without this file', `${'c'.repeat(64)}  helm-v3.19.0-darwin-arm64.tar.gz\n`, undefined],
    ['an error page', '<html>404</html>', undefined],
  ])('the published sha256 is read from %s', (_what, text, expected) => {
    expect(publishedSha256(text, 'helm-v3.19.0-linux-amd64.tar.gz')).toBe(expected);
  });
});

describe('settings', () => {
  const parse = (values: Record<string, string>) => parseConfig('deploy', new MapSource({ manifests: 'k8s', app: 'web', ...values }, 'input'), { GITHUB_WORKSPACE: '/ws' });

  it('default to the official locations, no pinned version, and a path wins', () => {
    const config = parse({ helm: '/opt/helm' });
    expect(config.kubectl).toMatchObject({ baseUrl: 'https://dl.k8s.io/release' });
    expect(config.kubectl.version).toBeUndefined();
    expect(config.helm).toMatchObject({ binary: '/opt/helm', baseUrl: 'https://get.helm.sh' });
  });

  it('read versions with or without v and mirrors without the trailing slash', () => {
    const config = parse({ 'kubectl-version': 'v1.33.13', 'helm-version': '3.19.0', 'kubectl-base-url': 'https://mirror.example/k8s/', 'helm-base-url': 'http://10.0.0.5/helm' });
    expect(config.kubectl).toMatchObject({ version: '1.33.13', baseUrl: 'https://mirror.example/k8s' });
    expect(config.helm).toMatchObject({ version: '3.19.0', baseUrl: 'http://10.0.0.5/helm' });
  });

  it('name a version that is not exact and a base URL that is not http(s)', () => {
    let caught: unknown;
    try {
      parse({ 'kubectl-version': 'latest', 'helm-version': '3.19', 'helm-base-url': 'ftp://mirror/helm' });
    } catch (err) {
      caught = err;
    }
    expect((caught as GantryErrors).errors.map((e) => e.message)).toEqual([
      'input "kubectl-version" must be a release version such as 1.33.13, got "latest"',
      'input "helm-version" must be a release version such as 3.19.0, got "3.19"',
      'input "helm-base-url" must be an http(s) URL, got "ftp://mirror/helm"',
    ]);
  });
});

describe('a pinned kubectl', () => {
  it('is downloaded, checked, cached and put on PATH, and runs; a second run takes it from the cache', async () => {
    const served = server.release('kubectl', '1.33.13', program('kubectl', '1.33.13', marker));
    const first = host();
    const runner = new RecordingRunner();
    const kubectl = new Kubectl({ binary: new Tools(settings({ kubectl: { version: '1.33.13' } }), first).locator('kubectl'), runner });

    expect((await kubectl.run(['version', '--client'])).trim()).toBe('kubectl v1.33.13 (test build)');
    const installed = join(dir, 'cache', 'kubectl', '1.33.13', process.arch, 'kubectl');
    expect(runner.calls).toEqual([`${installed} version --client`]);
    expect(server.requests).toEqual([new URL(served.checksumUrl).pathname, new URL(served.url).pathname]);
    expect(first.paths).toEqual([join(dir, 'cache', 'kubectl', '1.33.13', process.arch)]);
    expect(first.lines).toEqual([
      `kubectl 1.33.13: downloading ${served.url}`,
      `kubectl 1.33.13: sha256 ${served.sha256} matches ${served.checksumUrl}`,
      `kubectl 1.33.13: installed in ${join(dir, 'cache', 'kubectl', '1.33.13', process.arch)}`,
    ]);
    // Nothing of the download is left behind in RUNNER_TEMP.
    expect(readdirSync(join(dir, 'temp'))).toEqual([]);

    const second = host();
    const again = new Tools(settings({ kubectl: { version: '1.33.13' } }), second);
    expect(await again.binary('kubectl')).toBe(installed);
    expect(server.requests).toHaveLength(2);
    expect(second.lines).toEqual([`kubectl 1.33.13 from the tool cache: ${installed}`]);
  });

  it('whose download does not match the published sha256 is deleted, never run and never cached', async () => {
    const served = server.release('kubectl', '1.33.13', program('kubectl', '1.33.13', marker), 'e'.repeat(64));
    const runner = new RecordingRunner();
    const kubectl = new Kubectl({ binary: new Tools(settings({ kubectl: { version: '1.33.13' } }), host()).locator('kubectl'), runner });

    const error = await kubectl.run(['version', '--client']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GantryError);
    expect((error as GantryError).message).toBe(`kubectl 1.33.13: the sha256 of ${served.url} is ${served.sha256}, but ${served.checksumUrl} publishes ${'e'.repeat(64)}; the download was deleted, and nothing was run or cached`);
    expect((error as GantryError).hint).toContain('kubectl-base-url');
    expect(runner.calls).toEqual([]);
    expect(existsSync(marker)).toBe(false);
    expect(tc.find('kubectl', '1.33.13')).toBe('');
    expect(readdirSync(join(dir, 'cache'))).toEqual([]);
    expect(readdirSync(join(dir, 'temp'))).toEqual([]);
  });

  it('that is not released (404) names the URL it tried', async () => {
    const tools = new Tools(settings({ kubectl: { version: '9.9.9' } }), host());
    const error = await tools.binary('kubectl').catch((e: unknown) => e as GantryError);
    const release = releaseOf('kubectl', '9.9.9', server.base('kubectl'));
    expect((error as GantryError).message).toBe(`kubectl 9.9.9 could not be downloaded from ${release.checksumUrl}: Unexpected HTTP response: 404`);
    expect(server.requests).toEqual([new URL(release.checksumUrl).pathname]);
  });

  it('with a checksum file that holds no sha256 is not used', async () => {
    const served = server.release('kubectl', '1.33.14', program('kubectl', '1.33.14', marker));
    server.serve(new URL(served.checksumUrl).pathname, '<html>mirror error</html>');
    const error = await new Tools(settings({ kubectl: { version: '1.33.14' } }), host()).binary('kubectl').catch((e: unknown) => e as GantryError);
    expect((error as GantryError).message).toBe(`kubectl 1.33.14: ${served.checksumUrl} publishes no sha256 for kubectl, so the download cannot be checked and is not used`);
    expect(server.requests).toEqual([new URL(served.checksumUrl).pathname]);
    expect(existsSync(marker)).toBe(false);
  });

  it('gives way to an explicit path, which is used as given and downloads nothing', async () => {
    const h = host();
    const tools = new Tools(settings({ kubectl: { version: '1.33.13', binary: '/opt/k8s/kubectl' } }), h);
    await tools.installPinned();
    expect(await tools.binary('kubectl')).toBe('/opt/k8s/kubectl');
    expect(server.requests).toEqual([]);
    expect(h.lines).toEqual(['kubectl: /opt/k8s/kubectl as given; the pinned kubectl 1.33.13 is not installed']);
  });
});

describe('without a pinned version', () => {
  it('the tool on PATH is used and nothing is downloaded', async () => {
    const bin = await pathWithoutTools();
    writeFileSync(join(bin, 'kubectl'), program('kubectl', '1.30.0', marker), { mode: 0o755 });
    process.env.PATH = bin;
    expect(await new Tools(settings(), host()).binary('kubectl')).toBe(join(bin, 'kubectl'));
    expect(server.requests).toEqual([]);
  });

  it('a chart on a runner without helm is rendered by the default helm, downloaded from the tarball and checked once', async () => {
    process.env.PATH = await pathWithoutTools();
    const version = OFFICIAL_TOOLS.helm.version;
    const served = server.release('helm', version, program('helm', version, marker));
    const ws = join(dir, 'ws');
    mkdirSync(join(ws, 'chart/templates'), { recursive: true });
    writeFileSync(join(ws, 'chart/Chart.yaml'), 'apiVersion: v2\nname: web\nversion: 0.1.0\n');
    const h = host();
    const tools = new Tools(settings(), h);
    const kubectl = new Kubectl({ binary: tools.locator('kubectl'), runner: new RecordingRunner() });
    const helm = { binary: tools.locator('helm'), releaseName: 'web' };

    // The chart and another need for helm at the same time: one download.
    const [manifests, again] = await Promise.all([loadManifests({ workspace: ws, paths: ['chart'], kubectl, helm, namespace: 'shop' }), tools.binary('helm')]);
    expect(manifests.map((m) => [m.object.kind, m.object.metadata.name, m.object.data])).toEqual([['ConfigMap', 'rendered', { by: 'helm' }]]);

    const cached = join(dir, 'cache', 'helm', version, process.arch);
    expect(server.requests).toEqual([new URL(served.checksumUrl).pathname, new URL(served.url).pathname]);
    expect(readdirSync(cached)).toEqual(['helm']);
    expect(h.paths).toEqual([cached]);
    expect(h.lines[0]).toBe(`helm is not on PATH: installing helm ${version}`);
    expect(again).toBe(join(cached, 'helm'));
    expect(readdirSync(join(dir, 'temp'))).toEqual([]);
  });

  it('a helm tarball that does not match is not unpacked, run or cached', async () => {
    process.env.PATH = await pathWithoutTools();
    const served = server.release('helm', '3.19.1', program('helm', '3.19.1', marker), 'f'.repeat(64));
    const error = await new Tools(settings({ helm: { version: '3.19.1' } }), host()).binary('helm').catch((e: unknown) => e as GantryError);
    expect((error as GantryError).message).toBe(`helm 3.19.1: the sha256 of ${served.url} is ${served.sha256}, but ${served.checksumUrl} publishes ${'f'.repeat(64)}; the download was deleted, and nothing was run or cached`);
    expect(existsSync(marker)).toBe(false);
    expect(readdirSync(join(dir, 'cache'))).toEqual([]);
    expect(readdirSync(join(dir, 'temp'))).toEqual([]);
  });
});

describe('a deploy', () => {
  function workspaceWithKustomization(): string {
    const ws = join(dir, 'ws');
    mkdirSync(join(ws, 'k8s'), { recursive: true });
    writeFileSync(join(ws, 'k8s/kustomization.yaml'), 'resources: []\n');
    return ws;
  }
  const config = (ws: string, extra: Record<string, string>) =>
    parseConfig('deploy', new MapSource({ manifests: 'k8s', app: 'web', 'kubectl-base-url': server.base('kubectl'), ...extra }, 'input'), { GITHUB_WORKSPACE: ws });

  it('with a pinned kubectl installs it first and renders the kustomization with it', async () => {
    process.env.PATH = await pathWithoutTools();
    const ws = workspaceWithKustomization();
    server.release('kubectl', '1.33.13', program('kubectl', '1.33.13', marker));
    const cluster = new FakeCluster();
    const reporter = new MemoryReporter();
    const outcome = await deploy(config(ws, { 'kubectl-version': '1.33.13' }), { client: cluster, reporter });
    expect(outcome.result).toBe('deployed');
    expect(outcome.changed).toEqual(['ConfigMap/rendered']);
    expect(cluster.objects.get('ConfigMap/default/rendered')?.data).toEqual({ by: 'kubectl' });
    // The install comes before the manifests, and the version is first on PATH for what runs later.
    const installedAt = reporter.lines.findIndex((l) => l.startsWith('kubectl 1.33.13: installed in'));
    expect(installedAt).toBeGreaterThanOrEqual(0);
    expect(installedAt).toBeLessThan(reporter.lines.findIndex((l) => l === '1 objects loaded'));
    expect(process.env.PATH?.split(':')[0]).toBe(join(dir, 'cache', 'kubectl', '1.33.13', process.arch));
  });

  it('with a pinned kubectl that fails its checksum stops before the cluster is touched', async () => {
    const ws = workspaceWithKustomization();
    server.release('kubectl', '1.33.13', program('kubectl', '1.33.13', marker), '0'.repeat(64));
    const cluster = new FakeCluster();
    await expect(deploy(config(ws, { 'kubectl-version': '1.33.13' }), { client: cluster, reporter: new MemoryReporter() })).rejects.toThrow(/the sha256 of .* is [0-9a-f]{64}, but .* publishes 0{64}/);
    expect(cluster.calls).toEqual([]);
    expect(existsSync(marker)).toBe(false);
  });
});
