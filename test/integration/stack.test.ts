// The local stack is real: a pod built from the local registry runs, serves HTTP
// through the API server's service proxy, and Prometheus scrapes it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kubectl } from '../../src/kube/kubectl.js';
import { serviceGet, stack, uniqueName } from '../support/stack.js';

const env = stack();
const kubectl = new Kubectl({ kubeconfig: env.kubeconfig });
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

beforeAll(async () => {
  await kubectl.run(['create', 'namespace', ns]);
});
afterAll(async () => {
  await kubectl.exec(['delete', 'namespace', ns, '--wait=false']);
});

describe('local delivery stack', () => {
  it('the node is Ready and runs a real container runtime', async () => {
    const node = await kubectl.get<{ status: { conditions: { type: string; status: string }[]; nodeInfo: { containerRuntimeVersion: string; kubeletVersion: string } } }>('node', 'gantry-node');
    expect(node?.status.conditions.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(node?.status.nodeInfo.containerRuntimeVersion).toMatch(/^containerd:\/\//);
    expect(node?.status.nodeInfo.kubeletVersion).toMatch(/^v1\.3[23]\./);
  });

  it('a sample app from the local registry becomes ready and answers /version through the service proxy', async () => {
    await kubectl.run(['apply', '-f', '-'], sampleApp('v1'));
    await kubectl.run(['-n', ns, 'rollout', 'status', 'deployment/sample-app', '--timeout=90s']);
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
});
