// The plan action's engine on the in-memory cluster: what a reviewer reads in the PR
// comment (created, changed and dropped objects, field paths, the rollout) and what fails
// the check (a YAML error at its file:line, an object the server rejects).
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import type { GitContext } from '../../src/config/build-push.js';
import { parsePlanConfig, type PlanConfig } from '../../src/config/plan.js';
import { MapSource } from '../../src/config/source.js';
import { GantryErrors } from '../../src/errors.js';
import type { KubeObject } from '../../src/kube/client.js';
import { fieldChanges } from '../../src/kube/diff.js';
import { History } from '../../src/kube/history.js';
import { COMMENT_LIMIT } from '../../src/report/sticky-comment.js';
import { COMMENT_BUDGET, planJson, renderPlan, renderPlanFailure, setPlanOutputs } from '../../src/report/plan.js';
import { MemoryReporter } from '../../src/report/reporter.js';
import { rollout } from '../../src/strategies/basic.js';
import { blueGreenDeliver } from '../../src/strategies/blue-green.js';
import { plan } from '../../src/strategies/plan.js';
import { FakeCluster, configMap, deployment, fakeEngine } from '../fixtures/deploy/fake-cluster.js';
import { configYaml, deploymentYaml, serviceYaml, workspace } from '../fixtures/deploy/sample.js';

const noEvent: GitContext = { eventName: 'push', ref: 'refs/heads/main', sha: 'c0ffee1234567890', repository: 'acme/shop', serverUrl: 'https://github.com' };

function planConfig(files: Record<string, string>, inputs: Record<string, string> = {}, env: NodeJS.ProcessEnv = { KUBECONFIG: '/kubeconfig' }): PlanConfig {
  const ws = workspace(files);
  return parsePlanConfig(new MapSource({ manifests: 'k8s', app: 'web', namespace: 'default', ...inputs }, 'input'), noEvent, { GITHUB_WORKSPACE: ws, ...env });
}

const deploymentV1 = (image = 'localhost:5000/sample-app:v1'): string => deploymentYaml({ image }).replace(/\n        prometheus.io\/scrape: "true"\n        prometheus.io\/port: "8080"/, '').replace('      annotations:\n', '');

/** What a previous deploy left: v1 of the sample app as Gantry applied it, recorded as revision 1 with a ConfigMap since dropped. */
async function deployedV1(cluster: FakeCluster): Promise<void> {
  const live = [parse(deploymentV1()) as KubeObject, parse(configYaml({ image: '' })) as KubeObject, configMap('web-legacy', { OLD: 'yes' })];
  for (const o of live) {
    o.metadata.namespace = 'default';
    o.metadata.labels = { ...o.metadata.labels, 'app.kubernetes.io/managed-by': 'gantry' };
    o.metadata.annotations = { 'gantry.dev/revision': '1', 'gantry.dev/run-url': 'https://github.com/acme/shop/actions/runs/1' };
    cluster.put(o);
  }
  await new History(cluster, { namespace: 'default', app: 'web' }, 10).record({ revision: 1, images: {}, deployedAt: '2026-11-01T00:00:00Z', runUrl: 'r1', objects: live }, []);
}

describe('plan: diff against the cluster', () => {
  it('names what a merge creates and changes, field by field, and what the manifests dropped', async () => {
    const cluster = new FakeCluster();
    await deployedV1(cluster);
    const seeded = cluster.calls.length;
    const reporter = new MemoryReporter();
    const config = planConfig(
      { 'k8s/config.yaml': configYaml({ image: '' }), 'k8s/deployment.yaml': deploymentV1(), 'k8s/service.yaml': serviceYaml({ image: '' }) },
      { images: 'localhost:5000/sample-app@sha256:' + 'b'.repeat(64) },
    );
    const result = await plan(config, { client: cluster, reporter });
    expect(result.objects).toBe(3);
    expect(result.diff.status).toBe('done');
    if (result.diff.status !== 'done') return;
    expect(result.diff.changes.map((c) => [c.action, c.name])).toEqual([['change', 'Deployment/web'], ['create', 'Service/web']]);
    const web = result.diff.changes[0]!;
    // The image input pinned the digest; the run URL and revision annotations are Gantry's trace, not a change.
    expect(web.fields.map((f) => f.path)).toContain('spec.template.spec.containers[app].image');
    expect(web.fields.find((f) => f.path === 'spec.template.spec.containers[app].image')).toMatchObject({ before: 'localhost:5000/sample-app:v1', after: `localhost:5000/sample-app@sha256:${'b'.repeat(64)}` });
    expect(web.fields.map((f) => f.path).join(' ')).not.toMatch(/gantry\.dev|managedFields|resourceVersion|uid|generation|creationTimestamp/);
    expect(web.text).toContain(`-          image: localhost:5000/sample-app:v1`);
    expect(web.text).toContain(`+          image: localhost:5000/sample-app@sha256:${'b'.repeat(64)}`);
    expect(result.diff.unchanged).toBe(1);
    expect(result.diff.dropped).toEqual([{ name: 'ConfigMap/web-legacy', revision: 1 }]);
    expect(result.diff.validation).toBe('dry-run');
    // Nothing was written: only dry runs.
    expect(cluster.calls.slice(seeded).filter((c) => ['apply', 'create', 'replace', 'patch', 'delete'].includes(c.verb)).map((c) => [c.verb, c.dryRun])).toEqual([['apply', true]]);

    const md = renderPlan(result, { commit: 'c0ffee1234567890', runUrl: 'https://github.com/acme/shop/actions/runs/9', limit: COMMENT_BUDGET });
    expect(md.split('\n')[0]).toBe('<!-- gantry-plan: default/web -->');
    expect(md).toContain('📝 **2 changes**: 1 to create, 1 to change; 1 unchanged');
    expect(md).toContain('| ✏️ change | `Deployment/web` | `spec.template.spec.containers[app].image` |');
    expect(md).toContain('| ➕ create | `Service/web` | new |');
    expect(md).toContain('| ⚠️ dropped | `ConfigMap/web-legacy` | in r1, no longer in the manifests: a deploy leaves it in the cluster |');
    expect(md).toMatch(/<details open><summary><code>Deployment\/web<\/code> \(change: 1 field\)<\/summary>\n\n```diff\n/);
    expect(md).toContain('**basic**');
    expect(md).toContain('commit `c0ffee123456`');

    setPlanOutputs(reporter, result);
    expect(reporter.outputs.changes).toBe('2');
    expect(reporter.outputs['has-changes']).toBe('true');
    expect(JSON.parse(reporter.outputs.plan!)).toMatchObject({
      target: { namespace: 'default', app: 'web' },
      diff: { status: 'done', create: ['Service/web'], change: [{ object: 'Deployment/web', fields: ['spec.template.spec.containers[app].image'] }], unchanged: 1, dropped: [{ name: 'ConfigMap/web-legacy', revision: 1 }] },
      rollout: { strategy: 'basic' },
    });
  });

  it('reports no changes when the manifests match what runs', async () => {
    const cluster = new FakeCluster();
    await deployedV1(cluster);
    const config = planConfig({ 'k8s/config.yaml': configYaml({ image: '' }), 'k8s/deployment.yaml': deploymentV1(), 'k8s/legacy.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-legacy\ndata:\n  OLD: "yes"\n' });
    const reporter = new MemoryReporter();
    const result = await plan(config, { client: cluster, reporter });
    setPlanOutputs(reporter, result);
    expect(reporter.outputs).toMatchObject({ changes: '0', 'has-changes': 'false' });
    expect(renderPlan(result, { limit: COMMENT_BUDGET })).toContain('✅ **No changes**; 3 unchanged');
  });

  it('never shows Secret values: changed keys read *** (before) / *** (after)', async () => {
    const cluster = new FakeCluster();
    cluster.put({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db', namespace: 'default', labels: { 'app.kubernetes.io/managed-by': 'gantry' } }, data: { password: Buffer.from('hunter2').toString('base64'), user: Buffer.from('app').toString('base64') } } as KubeObject);
    const secret = `apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ndata:\n  password: ${Buffer.from('correct-horse').toString('base64')}\n  user: ${Buffer.from('app').toString('base64')}\n`;
    const result = await plan(planConfig({ 'k8s/secret.yaml': secret }), { client: cluster, reporter: new MemoryReporter() });
    if (result.diff.status !== 'done') throw new Error('diff skipped');
    const md = renderPlan(result, { limit: COMMENT_BUDGET });
    for (const value of ['hunter2', 'correct-horse', Buffer.from('hunter2').toString('base64'), Buffer.from('correct-horse').toString('base64')]) expect(md).not.toContain(value);
    expect(result.diff.changes[0]!.fields).toEqual([{ path: 'data.password', op: 'replace', before: '*** (before)', after: '*** (after)' }]);
    expect(md).toContain('-  password: "*** (before)"');
    expect(md).toContain('   user: "***"');
    expect(JSON.stringify(planJson(result))).not.toContain('hunter2');
  });

  it('fails with the rejected object at its file:line when the server dry run refuses it', async () => {
    const cluster = new FakeCluster();
    cluster.reject = (o) => (o.kind === 'Service' ? 'spec.ports[0].port: Invalid value: 0' : undefined);
    const config = planConfig({ 'k8s/all.yaml': `${configYaml({ image: '' })}---\n${serviceYaml({ image: '', servicePort: 0 })}` });
    const error = await plan(config, { client: cluster, reporter: new MemoryReporter() }).catch((e: unknown) => e);
    expect(error).toMatchObject({ message: expect.stringMatching(/Service "web" was rejected by the server: .*port: Invalid value/), location: { file: 'k8s/all.yaml', line: 8 } });
  });

  it('diffs only the fields the manifests set when the credentials may not run a dry run', async () => {
    const cluster = new FakeCluster();
    await deployedV1(cluster);
    // A read-only PR credential: the API server refuses the dry-run PATCH with 403.
    cluster.apply = async (objects) => ({ ok: false, objects: [], problems: objects.map((o, index) => ({ object: `${o.kind} "${o.metadata.name}"`, index, code: 403, reason: 'Forbidden', message: 'patch is forbidden: User "pr-reader" cannot patch resource' })) });
    const reporter = new MemoryReporter();
    const result = await plan(planConfig({ 'k8s/deployment.yaml': deploymentV1('localhost:5000/sample-app:v2') }), { client: cluster, reporter });
    if (result.diff.status !== 'done') throw new Error('diff skipped');
    expect(result.diff.validation).toBe('forbidden');
    expect(result.diff.changes.map((c) => [c.name, c.fields.map((f) => f.path)])).toEqual([['Deployment/web', ['spec.template.spec.containers[app].image']]]);
    expect(reporter.warnings[0]!.message).toMatch(/refused the dry run of 1 of 1 objects/);
    expect(renderPlan(result, { limit: COMMENT_BUDGET })).toContain('not validated by the server');
  });
});

describe('plan: a blue-green target', () => {
  it('compares the manifests\' Deployment with its live twin web-r1 and leaves the Service\'s revision pin out', async () => {
    const { cluster, engine } = fakeEngine();
    // The fake plays the EndpointSlice controller, so the switch sees the new pods behind the Service.
    cluster.endpointController = true;
    const managed = { 'app.kubernetes.io/managed-by': 'gantry' };
    const set = (image: string): KubeObject[] => {
      const d = deployment('web', image);
      return [
        { ...d, metadata: { ...d.metadata, labels: managed }, spec: { ...(d.spec as object), replicas: 3 } } as KubeObject,
        { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default', labels: managed }, spec: { selector: { app: 'web' }, ports: [{ port: 80 }] } } as KubeObject,
      ];
    };
    const gates = { run: async () => ({ passed: true, verdicts: [] }), background: () => ({ failed: new Promise<string>(() => undefined), stop: async () => [] }) };
    const outcome = await rollout({ ...engine, strategy: 'blue-green', deliver: blueGreenDeliver({ gates, prePromotion: [], postPromotion: [], scaleDownDelayMs: 0 }) }, () => ({ objects: set('app:v1') }));
    expect(outcome.result, outcome.reason).toBe('deployed');
    expect(cluster.get('Deployment', 'web')).toBeUndefined();

    const files = { 'k8s/app.yaml': set('app:v2').map((o) => stringify(o)).join('---\n') };
    const result = await plan(planConfig(files, { strategy: 'blue-green' }), { client: cluster, reporter: new MemoryReporter() });
    if (result.diff.status !== 'done') throw new Error(result.diff.reason);
    expect(result.diff.changes.map((c) => [c.action, c.name, c.liveAs, c.fields.map((f) => f.path)])).toEqual([['change', 'Deployment/web', 'web-r1', ['spec.template.spec.containers[app].image']]]);
    expect(result.diff.unchanged).toBe(1);
    expect(renderPlan(result, { limit: COMMENT_BUDGET })).toContain('| ✏️ change | `Deployment/web` (live as `web-r1`) | `spec.template.spec.containers[app].image` |');
  });
});

describe('plan without cluster access', () => {
  it('still renders and validates, and says the diff was skipped and why', async () => {
    const config = planConfig({ 'k8s/deployment.yaml': deploymentV1() }, {}, {});
    expect(config.clusterSkipped).toBe('no kubeconfig was given (input "kubeconfig" or $KUBECONFIG)');
    const reporter = new MemoryReporter();
    const result = await plan(config, { reporter });
    expect(result.diff).toEqual({ status: 'skipped', reason: 'no kubeconfig was given (input "kubeconfig" or $KUBECONFIG)' });
    setPlanOutputs(reporter, result);
    expect(reporter.outputs).toMatchObject({ changes: '', 'has-changes': '' });
    expect(renderPlan(result, { limit: COMMENT_BUDGET })).toContain('🔎 1 object rendered and validated; **diff skipped**: no kubeconfig was given');
  });

  it('fails on a YAML error with its file:line, before any cluster is asked', async () => {
    const config = planConfig({ 'k8s/deployment.yaml': deploymentV1(), 'k8s/broken.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: [1, 2\n  b: 3\n' }, {}, {});
    const error = await plan(config, { reporter: new MemoryReporter() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GantryErrors);
    const located = (error as GantryErrors).errors.map((e) => e.location);
    expect(located).toContainEqual(expect.objectContaining({ file: 'k8s/broken.yaml', line: expect.any(Number) }));
    expect(located[0]!.line).toBeGreaterThanOrEqual(6);
    const md = renderPlanFailure({ namespace: 'default', app: 'web' }, error as GantryErrors, { limit: COMMENT_BUDGET });
    expect(md).toMatch(/^<!-- gantry-plan: default\/web -->\n/);
    expect(md).toMatch(/❌ \*\*The plan failed\*\*/);
    expect(md).toMatch(/`k8s\/broken\.yaml:\d+(:\d+)?`: /);
  });
});

describe('plan: the rollout', () => {
  it('shows a canary\'s steps and gates, shorthand gates included', async () => {
    const config = planConfig(
      { 'k8s/deployment.yaml': deploymentV1(), 'k8s/service.yaml': serviceYaml({ image: '' }) },
      { strategy: 'canary', steps: '- setWeight: 10\n- analysis:\n  - name: smoke\n    http: {service: "${canary}", port: 80, path: /healthz}\n    count: 3\n    interval: 5s\n- pause: {}\n', 'smoke-url': '/ready' },
      {},
    );
    const result = await plan(config, { reporter: new MemoryReporter() });
    const md = renderPlan(result, { limit: COMMENT_BUDGET });
    expect(md).toContain('**canary** with the replica-ratio router');
    expect(md).toContain('1. set weight **10 %**');
    expect(md).toContain('2. analysis:\n   - **smoke**: `http ${canary}:80/healthz`, 3× every 5s');
    expect(md).toContain('3. pause until promoted');
    expect(md).toContain('4. promote');
    expect(md).toContain('Beside the whole canary:\n- **smoke**: `http ${canary}:80/ready`');
    expect(planJson(result)).toMatchObject({ rollout: { strategy: 'canary', steps: [{ setWeight: 10 }, { analysis: ['smoke: http ${canary}:80/healthz, 3× every 5s'] }, { pause: 'until promoted' }], background: ['smoke: http ${canary}:80/ready'] } });
  });
});

describe('plan: the comment fits GitHub\'s limit', () => {
  it('leaves out the diffs that do not fit, names them, and points at the job summary', async () => {
    const cluster = new FakeCluster();
    const files: Record<string, string> = {};
    for (let i = 0; i < 40; i++) files[`k8s/cm-${i}.yaml`] = configYaml({ image: '', config: Object.fromEntries(Array.from({ length: 60 }, (_, k) => [`KEY_${k}`, 'x'.repeat(40)])) }).replace('web-config', `cm-${i}`);
    const result = await plan(planConfig(files), { client: cluster, reporter: new MemoryReporter() });
    const md = renderPlan(result, { runUrl: 'https://github.com/acme/shop/actions/runs/9', limit: COMMENT_BUDGET });
    expect(md.length).toBeLessThanOrEqual(COMMENT_LIMIT);
    expect(md).toMatch(/The diffs of \d+ objects were left out: GitHub limits a comment to 65,536 characters\. The job summary of the \[run\]\(https:\/\/github\.com\/acme\/shop\/actions\/runs\/9\) has them\./);
    // Every object is still in the table, and the rollout section survives.
    for (let i = 0; i < 40; i++) expect(md).toContain(`| ➕ create | \`ConfigMap/cm-${i}\` | new |`);
    expect(md).toContain('#### Rollout');
    expect(renderPlan(result, { limit: 1024 * 1024 })).not.toContain('were left out');
  });
});

describe('field paths', () => {
  it('match named list items by name and quote keys that are not plain words', () => {
    const before = { metadata: { labels: { 'app.kubernetes.io/version': '1' } }, spec: { containers: [{ name: 'app', image: 'a:1' }, { name: 'side', image: 's:1' }], args: ['--a'] } };
    const after = { metadata: { labels: { 'app.kubernetes.io/version': '2' } }, spec: { containers: [{ name: 'side', image: 's:1' }, { name: 'app', image: 'a:2' }, { name: 'new', image: 'n:1' }], args: ['--a', '--b'] } };
    expect(fieldChanges(before, after)).toEqual([
      { path: 'metadata.labels["app.kubernetes.io/version"]', op: 'replace', before: '1', after: '2' },
      { path: 'spec.args', op: 'replace', before: ['--a'], after: ['--a', '--b'] },
      { path: 'spec.containers[app].image', op: 'replace', before: 'a:1', after: 'a:2' },
      { path: 'spec.containers[new]', op: 'add', after: { name: 'new', image: 'n:1' } },
    ]);
  });
});
