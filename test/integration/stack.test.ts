// The local stack is real: a pod built from the local registry runs, serves HTTP
// through the API server's service proxy, and Prometheus scrapes it. A second
// kubeconfig authenticates through an exec credential plugin, as real clusters' do.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/kube/api-client.js';
import { serviceGet, stack, uniqueName } from '../support/stack.js';

const env = stack();
const kc = (args: string[], input?: string): string => execFileSync('kubectl', ['--kubeconfig', env.kubeconfig, ...args], { encoding: 'utf8', stdio: 'pipe', input });
const ns = uniqueName('gantry-stack');

function sampleApp(version: string): string {
  return `
apiVersion: apps/v1
kind: Deployment
metadata: {name: sample-app, namespace: ${ns}}
spec:
  replicas: 2
  selector: {matchLabels: {app: sample-app}}
  template:
    metadata:
      labels: {app: sample-app}
      annotations: {prometheus.io/scrape: "true", prometheus.io/port: "8080"}
    spec:
      containers:
      - name: app
        image: ${env.sampleImage}:${version}
        ports: [{containerPort: 8080}]
        readinessProbe: {httpGet: {path: /ready, port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: sample-app, namespace: ${ns}}
spec:
  selector: {app: sample-app}
  ports: [{port: 80, targetPort: 8080}]
`;
}

async function promQuery(query: string): Promise<unknown[]> {
  const res = await fetch(`${env.prometheusUrl}/api/v1/query?query=${encodeURIComponent(query)}`);
  const body = (await res.json()) as { status: string; data: { result: unknown[] } };
  return body.data.result;
}

beforeAll(() => {
  kc(['create', 'namespace', ns]);
});
afterAll(() => {
  kc(['delete', 'namespace', ns, '--wait=false']);
});

describe('local delivery stack', () => {
  it('the node is Ready and runs a real container runtime', async () => {
    const client = ApiClient.fromConfig({ kubeconfig: env.kubeconfig });
    const node = await client.get<{ apiVersion: string; kind: string; metadata: { name: string }; status: { conditions: { type: string; status: string }[]; nodeInfo: { containerRuntimeVersion: string; kubeletVersion: string } } }>({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'gantry-node' } });
    client.close();
    expect(node?.status.conditions.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(node?.status.nodeInfo.containerRuntimeVersion).toMatch(/^containerd:\/\//);
    expect(node?.status.nodeInfo.kubeletVersion).toMatch(/^v1\.3[23]\./);
  });

  it('a sample app from the local registry becomes ready and answers /version through the service proxy', async () => {
    kc(['apply', '-f', '-'], sampleApp('v1'));
    kc(['-n', ns, 'rollout', 'status', 'deployment/sample-app', '--timeout=90s']);
    const answer = await serviceGet(ns, 'sample-app:80', '/version');
    expect(answer.trim()).toBe('v1');
  }, 120_000);

  it("Prometheus scrapes the app's series, labelled with its version, within 30 s", async () => {
    const started = Date.now();
    let series: { metric: { version?: string; code?: string } }[] = [];
    while (Date.now() - started < 30_000) {
      series = (await promQuery(`http_requests_total{namespace="${ns}",code="200"}`)) as typeof series;
      if (series.length >= 1) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect(series.length, 'no http_requests_total series for the test namespace after 30 s').toBeGreaterThanOrEqual(1);
    expect(series[0]!.metric.version).toBe('v1');
  }, 40_000);

  it('an exec credential plugin kubeconfig works, and kubectl authenticates as the ServiceAccount it mints tokens for', () => {
    const kc = (...args: string[]) => execFileSync('kubectl', ['--kubeconfig', env.execKubeconfig, ...args], { encoding: 'utf8', stdio: 'pipe' });
    // The kubeconfig's user has no certificate or token of its own: only the plugin.
    const user = JSON.parse(kc('config', 'view', '-o', 'jsonpath={.users[0].user}')) as { exec?: { apiVersion: string; command: string }; token?: string; 'client-certificate'?: string };
    expect(user.exec?.apiVersion).toBe('client.authentication.k8s.io/v1');
    expect(user.token).toBeUndefined();
    expect(user['client-certificate']).toBeUndefined();

    // The plugin prints an ExecCredential whose token expires in the future.
    const cred = JSON.parse(execFileSync(user.exec!.command, { encoding: 'utf8' })) as { apiVersion: string; kind: string; status: { token: string; expirationTimestamp: string } };
    expect(cred.apiVersion).toBe('client.authentication.k8s.io/v1');
    expect(cred.kind).toBe('ExecCredential');
    expect(cred.status.token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(Date.parse(cred.status.expirationTimestamp)).toBeGreaterThan(Date.now() + 5 * 60_000);

    expect(kc('get', 'ns', '-o', 'name').split('\n')).toContain('namespace/kube-system');
    const who = JSON.parse(kc('auth', 'whoami', '-o', 'json')) as { status: { userInfo: { username: string; groups: string[] } } };
    expect(who.status.userInfo.username).toBe('system:serviceaccount:kube-system:gantry-exec');
    expect(who.status.userInfo.groups).toContain('system:serviceaccounts');
  }, 30_000);
});
