// The real kubectl and helm, served by a local mirror laid out as dl.k8s.io and get.helm.sh,
// installed on a runner that has neither: checked against the published sha256, cached in
// RUNNER_TOOL_CACHE, and then rendering a kustomization and a chart. No cluster needed.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import * as tc from '@actions/tool-cache';
import type { GantryError } from '../../src/errors.js';
import { Kubectl } from '../../src/kube/kubectl.js';
import { loadManifests } from '../../src/kube/manifests.js';
import { findExecutable } from '../../src/shared/process.js';
import { Tools, releaseOf, type ToolName, type ToolSettings } from '../../src/shared/tools.js';
import { ReleaseServer } from '../fixtures/tools/release-server.js';
import { RecordingRunner } from '../fixtures/tools/recording-runner.js';

const REPO_ROOT = resolve(import.meta.dirname, '../..');
const FIXTURES = 'test/fixtures/manifests';
const KUBECTL = '1.33.13';
const HELM = '3.19.0';

/** The machine's real binaries, to serve: the stack's kubectl (first on PATH) and the helm it built. */
function realBinary(name: ToolName): string {
  const candidates = [...(process.env.PATH ?? '').split(delimiter).map((d) => join(d, name)), join(homedir(), '.cache/gantry/tools', name)];
  const found = candidates.find((c) => existsSync(c));
  if (!found) throw new Error(`${name} not found on PATH or in ~/.cache/gantry/tools; start the stack (bash test/stack/stack.sh up), which provides both`);
  return realpathSync(found);
}


const served = { kubectl: '', helm: '' };
let server: ReleaseServer;
let dir: string;
const saved = { ...process.env };

beforeAll(async () => {
  served.kubectl = realBinary('kubectl');
  served.helm = realBinary('helm');
  server = await new ReleaseServer().start();
  server.release('kubectl', KUBECTL, readFileSync(served.kubectl));
  server.release('helm', HELM, readFileSync(served.helm));
}, 120_000);
afterAll(() => server.close());

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gantry-tools-real-'));
  for (const sub of ['cache', 'temp', 'bin']) mkdirSync(join(dir, sub));
  // A runner with tar and gzip (to unpack helm) and without kubectl or helm.
  for (const tool of ['tar', 'gzip']) symlinkSync((await findExecutable(tool))!, join(dir, 'bin', tool));
  process.env.PATH = join(dir, 'bin');
  process.env.RUNNER_TOOL_CACHE = join(dir, 'cache');
  process.env.RUNNER_TEMP = join(dir, 'temp');
  server.requests.length = 0;
});
afterEach(() => {
  for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
  Object.assign(process.env, saved);
  rmSync(dir, { recursive: true, force: true });
});

function settings(over: Partial<Record<ToolName, Partial<ToolSettings>>> = {}): Record<ToolName, ToolSettings> {
  return { kubectl: { baseUrl: server.base('kubectl'), ...over.kubectl }, helm: { baseUrl: server.base('helm'), ...over.helm } };
}

const host = () => ({ lines: [] as string[], info(l: string) { this.lines.push(l); }, addPath: (d: string) => { process.env.PATH = `${d}${delimiter}${process.env.PATH ?? ''}`; } });

describe('kubectl and helm installed from a mirror', () => {
  it('a pinned kubectl is the served binary, runs, renders a kustomization, and comes from the cache the second time', async () => {
    const runner = new RecordingRunner();
    const kubectl = new Kubectl({ binary: new Tools(settings({ kubectl: { version: KUBECTL } }), host()).locator('kubectl'), runner });
    const version = await kubectl.run(['version', '--client']);
    expect(version).toBe(execFileSync(served.kubectl, ['version', '--client'], { encoding: 'utf8' }));
    expect(version).toMatch(/^Client Version: v1\./);
    expect(runner.calls[0]).toBe(`${join(dir, 'cache', 'kubectl', KUBECTL, process.arch, 'kubectl')} version --client`);
    expect(server.requests).toHaveLength(2);

    const manifests = await loadManifests({ workspace: REPO_ROOT, paths: [`${FIXTURES}/kustomize/overlay`], kubectl, namespace: 'x' });
    expect(manifests.map((m) => `${m.object.kind} ${m.object.metadata.namespace}/${m.object.metadata.name}`)).toContain('Deployment shop/prod-web');

    const again = host();
    expect(await new Tools(settings({ kubectl: { version: KUBECTL } }), again).binary('kubectl')).toBe(join(dir, 'cache', 'kubectl', KUBECTL, process.arch, 'kubectl'));
    expect(server.requests).toHaveLength(2);
    expect(again.lines).toEqual([expect.stringMatching(/^kubectl 1\.33\.13 from the tool cache: /)]);
  }, 60_000);

  it('a chart on a runner without helm is rendered by helm installed from the release tarball', async () => {
    const h = host();
    const tools = new Tools(settings({ helm: { version: HELM } }), h);
    const manifests = await loadManifests({
      workspace: REPO_ROOT, paths: [`${FIXTURES}/chart/web`], kubectl: new Kubectl({ binary: tools.locator('kubectl') }), namespace: 'shop',
      helm: { binary: tools.locator('helm'), releaseName: 'store', valuesFiles: [`${FIXTURES}/chart/values-prod.yaml`], set: { mode: 'prod' } },
    });
    expect(manifests.map((m) => `${m.object.kind} ${m.object.metadata.namespace}/${m.object.metadata.name}`)).toEqual(['Service shop/store', 'Deployment shop/store']);
    const helm = join(dir, 'cache', 'helm', HELM, process.arch, 'helm');
    expect(execFileSync(helm, ['version'], { encoding: 'utf8' })).toBe(execFileSync(served.helm, ['version'], { encoding: 'utf8' }));
    const release = releaseOf('helm', HELM, server.base('helm'));
    expect(server.requests).toEqual([new URL(release.checksumUrl).pathname, new URL(release.url).pathname]);
    expect(h.lines).toContainEqual(expect.stringMatching(new RegExp(`^helm ${HELM.replace(/\./g, '\\.')}: sha256 [0-9a-f]{64} matches `)));
    expect(readdirSync(join(dir, 'temp'))).toEqual([]);
  }, 120_000);

  it('a kubectl whose sha256 does not match the published one is never run and never cached', async () => {
    server.release('kubectl', '1.33.12', readFileSync(served.kubectl), '1'.repeat(64));
    const runner = new RecordingRunner();
    const kubectl = new Kubectl({ binary: new Tools(settings({ kubectl: { version: '1.33.12' } }), host()).locator('kubectl'), runner });
    const error = (await kubectl.run(['version', '--client']).catch((e: unknown) => e)) as GantryError;
    expect(error.message).toMatch(new RegExp(`^kubectl 1\\.33\\.12: the sha256 of ${server.url}/release/v1\\.33\\.12/bin/linux/\\w+/kubectl is [0-9a-f]{64}, but .*kubectl\\.sha256 publishes 1{64}; the download was deleted, and nothing was run or cached$`));
    expect(runner.calls).toEqual([]);
    expect(tc.find('kubectl', '1.33.12')).toBe('');
    expect(readdirSync(join(dir, 'cache'))).toEqual([]);
    expect(readdirSync(join(dir, 'temp'))).toEqual([]);
  }, 60_000);
});

