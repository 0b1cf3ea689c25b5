// Measures Gantry's overhead: the same sample-app manifests deployed with plain
// `kubectl apply` + `kubectl rollout status` and with `gantry deploy`, in one run.
// Run: npx vitest run test/bench/deploy-overhead.test.ts (needs the stack); prints the ratio.
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/deploy.js';
import { MapSource } from '../../src/config/source.js';
import { ApiClient } from '../../src/kube/api-client.js';
import { Kubectl } from '../../src/kube/kubectl.js';
import { MemoryReporter } from '../../src/report/reporter.js';
import { deploy } from '../../src/strategies/commands.js';
import { stack, uniqueName } from '../support/stack.js';
import { sampleFiles, workspace } from '../fixtures/deploy/sample.js';

const namespaces: string[] = [];
afterAll(() => {
  for (const ns of namespaces) execFileSync('kubectl', ['delete', 'namespace', ns, '--wait=false'], { stdio: 'pipe' });
});

function freshNamespace(): string {
  const ns = uniqueName('bench');
  execFileSync('kubectl', ['create', 'namespace', ns], { stdio: 'pipe' });
  namespaces.push(ns);
  return ns;
}

describe('deploy overhead', () => {
  it('prints the ratio of gantry deploy to kubectl apply + rollout status', async () => {
    const ws = workspace(sampleFiles({ image: `${stack().sampleImage}:v1` }));
    // Warm the image on the node so neither side pays for the first pull.
    const warm = freshNamespace();
    execFileSync('kubectl', ['apply', '-n', warm, '-f', `${ws}/k8s`], { stdio: 'pipe' });
    execFileSync('kubectl', ['rollout', 'status', '-n', warm, 'deployment/web', '--timeout=120s'], { stdio: 'pipe' });

    const plainNs = freshNamespace();
    const t0 = performance.now();
    execFileSync('kubectl', ['apply', '-n', plainNs, '-f', `${ws}/k8s`], { stdio: 'pipe' });
    execFileSync('kubectl', ['rollout', 'status', '-n', plainNs, 'deployment/web', '--timeout=120s'], { stdio: 'pipe' });
    const plainMs = performance.now() - t0;

    const gantryNs = freshNamespace();
    const kubectl = new Kubectl();
    const client = ApiClient.fromConfig();
    const t1 = performance.now();
    const outcome = await deploy(parseConfig('deploy', new MapSource({ manifests: 'k8s', app: 'web', namespace: gantryNs, timeout: '120s' }), { GITHUB_WORKSPACE: ws }), { client, kubectl, reporter: new MemoryReporter() }).finally(() => client.close());
    const gantryMs = performance.now() - t1;
    expect(outcome.result).toBe('deployed');
    console.log(`[measure] plain kubectl apply + rollout status: ${(plainMs / 1000).toFixed(1)} s; gantry deploy: ${(gantryMs / 1000).toFixed(1)} s (${kubectl.calls} processes started); overhead ratio ${(gantryMs / plainMs).toFixed(2)}`);
  }, 300_000);
});
