// The API client and the watch-based wait against the real cluster: sets that create their
// own namespace or install a CRD with its custom resources, a pod that can never mount its
// Secret, credentials from an exec plugin, and an API server restart in the middle of a wait.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, openSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/deploy.js';
import { MapSource } from '../../src/config/source.js';
import { GantryError } from '../../src/errors.js';
import { ApiClient } from '../../src/kube/api-client.js';
import { MemoryReporter } from '../../src/report/reporter.js';
import { RolloutOutcome } from '../../src/strategies/basic.js';
import { deploy } from '../../src/strategies/commands.js';
import { STACK_DIR, stack, uniqueName } from '../support/stack.js';
import { sampleFiles, workspace } from '../fixtures/deploy/sample.js';

const env = stack();
const V1 = `${env.sampleImage}:v1`;
const cleanup: string[][] = [];
afterEach(() => {
  for (const args of cleanup.splice(0)) execFileSync('kubectl', ['delete', '--ignore-not-found', '--wait=false', ...args], { stdio: 'pipe' });
});

async function run(ws: string, settings: Record<string, string>, reporter = new MemoryReporter()): Promise<{ outcome: RolloutOutcome; reporter: MemoryReporter }> {
  const config = parseConfig('deploy', new MapSource({ manifests: 'k8s', app: 'web', timeout: '90s', ...settings }), { GITHUB_WORKSPACE: ws });
  const client = ApiClient.fromConfig({ kubeconfig: config.kubectl.kubeconfig });
  try {
    return { outcome: await deploy(config, { client, reporter }), reporter };
  } finally {
    client.close();
  }
}

const kubectl = (...args: string[]): string => execFileSync('kubectl', args, { encoding: 'utf8', stdio: 'pipe' });

describe('sets that bring what they need', () => {
  it('the first deploy of a directory holding its own namespace.yaml creates the namespace, then locks and deploys into it', async () => {
    const ns = uniqueName('own');
    cleanup.push(['namespace', ns]);
    const ws = workspace({ ...sampleFiles({ image: V1 }), 'k8s/namespace.yaml': `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${ns}\n` });
    const { outcome, reporter } = await run(ws, { namespace: ns });
    expect(outcome.result, outcome.reason).toBe('deployed');
    expect(reporter.lines).toContain(`namespace ${ns} created first: the deploy lock and the rollout record live there`);
    expect(kubectl('get', 'deployment', 'web', '-n', ns, '-o', 'jsonpath={.status.readyReplicas}')).toBe('1');
    expect(kubectl('get', 'secret', 'gantry-web-history', '-n', ns, '-o', 'name')).toContain('gantry-web-history');
  }, 180_000);

  it('a CRD and its custom resources in one set: the CRD is applied and Established first, then its resources', async () => {
    const ns = uniqueName('crd');
    const group = `${uniqueName('g')}.gantry.test`;
    cleanup.push(['namespace', ns], ['customresourcedefinition', `widgets.${group}`]);
    kubectl('create', 'namespace', ns);
    const crd = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.${group}
spec:
  group: ${group}
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer, maximum: 10}
`;
    const widget = (size: number) => `apiVersion: ${group}/v1\nkind: Widget\nmetadata:\n  name: blue\nspec:\n  size: ${size}\n`;
    const set = (size: number) => workspace({ ...sampleFiles({ image: V1 }), 'k8s/crd.yaml': crd, 'k8s/widget.yaml': widget(size) });

    // The CRD is new, so its resource can only be checked once the CRD is Established: it is,
    // before the resource or anything after it is written, and the CRD is removed again.
    const early = await run(set(99), { namespace: ns });
    expect(early.outcome.result).toBe('rolled-back');
    expect(early.outcome.reason).toMatch(/spec\.size in body should be less than or equal to 10/);
    expect(kubectl('get', 'deployment', 'web', '-n', ns, '--ignore-not-found', '-o', 'name')).toBe('');
    expect(kubectl('get', 'crd', `widgets.${group}`, '--ignore-not-found', '-o', 'jsonpath={.metadata.deletionTimestamp}') !== '' || kubectl('get', 'crd', `widgets.${group}`, '--ignore-not-found', '-o', 'name') === '').toBe(true);
    for (let i = 0; i < 60 && kubectl('get', 'crd', `widgets.${group}`, '--ignore-not-found', '-o', 'name') !== ''; i++) await new Promise((r) => setTimeout(r, 500));

    const good = await run(set(3), { namespace: ns });
    expect(good.outcome.result, good.outcome.reason).toBe('deployed');
    expect(good.reporter.lines.some((l) => /1 go into namespaces or are of kinds this rollout creates/.test(l))).toBe(true);
    expect(kubectl('get', `widgets.${group}`, 'blue', '-n', ns, '-o', 'jsonpath={.spec.size}')).toBe('3');

    // Now the CRD is known, the same bad resource is refused by the dry run, naming its file:line, with nothing applied.
    const refused = await run(set(99), { namespace: ns }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(GantryError);
    expect((refused as GantryError).describe()).toMatch(/^k8s\/widget\.yaml:1: Widget\.[\w.-]+ "blue" was rejected by the server: .*less than or equal to 10/);
    expect(kubectl('get', `widgets.${group}`, 'blue', '-n', ns, '-o', 'jsonpath={.spec.size}')).toBe('3');
  }, 240_000);

  it('a pod that can never mount its Secret fails fast with FailedMount, named with the pod\'s event, and is rolled back', async () => {
    const ns = uniqueName('mount');
    cleanup.push(['namespace', ns]);
    kubectl('create', 'namespace', ns);
    expect((await run(workspace(sampleFiles({ image: V1 })), { namespace: ns })).outcome.result).toBe('deployed');
    const files = sampleFiles({ image: V1, config: { GREETING: 'mounted' } });
    files['k8s/deployment.yaml'] = files['k8s/deployment.yaml']!
      .replace('      containers:\n', '      volumes:\n        - name: creds\n          secret:\n            secretName: db-creds-missing\n      containers:\n')
      .replace('          readinessProbe:', '          volumeMounts:\n            - name: creds\n              mountPath: /creds\n          readinessProbe:');
    const { outcome } = await run(workspace(files), { namespace: ns });
    expect(outcome.result).toBe('rolled-back');
    expect(outcome.reason).toMatch(/FailedMount: MountVolume\.SetUp failed for volume "creds" : secret "db-creds-missing" not found/);
    console.log(`[measure] FailedMount detected after ${((outcome.timings.detectMs ?? 0) / 1000).toFixed(1)} s`);
    expect(kubectl('get', 'configmap', 'web-config', '-n', ns, '-o', 'jsonpath={.data.GREETING}')).toBe('hello');
  }, 180_000);
});

describe('credentials', () => {
  it('deploys with a kubeconfig whose user is an exec credential plugin', async () => {
    const ns = uniqueName('exec');
    cleanup.push(['namespace', ns]);
    kubectl('create', 'namespace', ns);
    const { outcome } = await run(workspace(sampleFiles({ image: V1 })), { namespace: ns, kubeconfig: env.execKubeconfig });
    expect(outcome.result, outcome.reason).toBe('deployed');
    // The objects were written by the plugin's identity, under Gantry's field manager.
    const managers = kubectl('get', 'deployment', 'web', '-n', ns, '--show-managed-fields', '-o', 'jsonpath={.metadata.managedFields[*].manager}');
    expect(managers.split(' ')).toContain('gantry');
  }, 180_000);
});

/** Stops kube-apiserver for `downMs` and starts it again with the same command line, as the stack started it. */
async function restartApiServer(downMs: number): Promise<void> {
  const pidFile = join(STACK_DIR, 'run/kube-apiserver.pid');
  const pid = Number(readFileSync(pidFile, 'utf8'));
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  const binary = readlinkSync(`/proc/${pid}/exe`);
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 100 && existsSync(`/proc/${pid}`); i++) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, downMs));
  const log = openSync(join(STACK_DIR, 'logs/kube-apiserver.log'), 'a');
  const child = spawn(binary, argv.slice(1), { detached: true, stdio: ['ignore', log, log] });
  child.unref();
  if (!child.pid) throw new Error(`could not start ${binary} again`);
  writeFileSync(pidFile, `${child.pid}\n`);
  for (let i = 0; i < 240; i++) {
    try {
      if (kubectl('get', '--raw', '/readyz') === 'ok') return;
    } catch {
      // not back yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error('kube-apiserver did not come back');
}

describe('watches', () => {
  it('a wait survives an API server restart: the deploy still ends deployed, and no state change is missed', async () => {
    const ns = uniqueName('restart');
    cleanup.push(['namespace', ns]);
    kubectl('create', 'namespace', ns);
    const files = sampleFiles({ image: V1, replicas: 2 });
    // The pods only count as available 20 s after they are ready: the wait spans the outage.
    files['k8s/deployment.yaml'] = files['k8s/deployment.yaml']!.replace('spec:\n  replicas: 2\n', 'spec:\n  replicas: 2\n  minReadySeconds: 20\n');
    const progress = new MemoryReporter();
    const deploying = run(workspace(files), { namespace: ns, timeout: '150s' }, progress);
    // The first progress line comes once the wait's watches are open: the restart must cut them.
    // (Polled in-process: a synchronous kubectl here would stall the deploy running beside it.)
    for (let i = 0; i < 240 && !progress.lines.some((l) => l.startsWith('Deployment/web: ')); i++) await new Promise((r) => setTimeout(r, 250));
    const outage = Date.now();
    await restartApiServer(4000);
    const awayMs = Date.now() - outage;
    console.log(`[measure] API server away for ${(awayMs / 1000).toFixed(1)} s`);
    const { outcome, reporter } = await deploying;
    expect(outcome.result, outcome.reason).toBe('deployed');
    const log = reporter.lines.join('\n');
    // The pods became available only after the API server was back: the wait saw that change
    // through watches opened before the outage and resumed after it (how they ended varies here:
    // a restart leaves connections half-open or ends them at the server's timeout).
    const ready = /^Deployment\/web: 2\/2 ready, (\d+) s$/m.exec(log);
    expect(ready, log).not.toBeNull();
    expect(Number(ready![1]) * 1000).toBeGreaterThanOrEqual(awayMs - 1000);
    expect(kubectl('get', 'deployment', 'web', '-n', ns, '-o', 'jsonpath={.status.availableReplicas}')).toBe('2');
  }, 240_000);
});
