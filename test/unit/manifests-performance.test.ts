// 1,000 objects go through load, parse, image substitution and metadata in ≤ 0.5 s,
// so the manifest step adds no noticeable time to a deploy (issue 5, test 10).
import { afterAll, beforeAll, expect, test } from 'vitest';
import { Kubectl } from '../../src/kube/kubectl.js';
import { addMetadata, loadManifests, substituteImages } from '../../src/kube/manifests.js';
import { FakeRunner, makeWorkspace, type TempWorkspace } from '../fixtures/manifests/workspace.js';

const OBJECTS = 1000;
const FILES = 20;
const NEW_IMAGE = `localhost:5000/gantry/sample-app@sha256:${'c'.repeat(64)}`;

// A realistic mix: a third each of Deployments (the expensive ones), Services and ConfigMaps.
function object(i: number): string {
  switch (i % 3) {
    case 0:
      return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-${i}
  labels: {app: web-${i}}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web-${i}}
  template:
    metadata:
      labels: {app: web-${i}}
    spec:
      initContainers:
        - name: migrate
          image: localhost:5000/gantry/sample-app:dev
          args: ["migrate"]
      containers:
        - name: web
          image: localhost:5000/gantry/sample-app:dev
          ports:
            - containerPort: 8080
          env:
            - name: MODE
              value: "prod"
          readinessProbe:
            httpGet: {path: /healthz, port: 8080}
          resources:
            requests: {cpu: 10m, memory: 16Mi}
        - name: sidecar
          image: localhost:5000/gantry/pause:1
`;
    case 1:
      return `apiVersion: v1
kind: Service
metadata:
  name: web-${i}
spec:
  selector:
    app: web-${i}
  ports:
    - port: 80
      targetPort: 8080
`;
    default:
      return `apiVersion: v1
kind: ConfigMap
metadata:
  name: settings-${i}
data:
  MODE: prod
  LOG_LEVEL: info
  FEATURE_FLAGS: "a,b,c"
`;
  }
}

let ws: TempWorkspace;
beforeAll(() => {
  const files: Record<string, string> = {};
  const perFile = OBJECTS / FILES;
  for (let f = 0; f < FILES; f++) {
    files[`k8s/part-${String(f).padStart(2, '0')}.yaml`] = Array.from({ length: perFile }, (_, j) => object(f * perFile + j)).join('---\n');
  }
  ws = makeWorkspace(files);
});
afterAll(() => ws.remove());

test('1,000 objects are loaded, parsed, given the new image and traced in under 0.5 s', async () => {
  const kubectl = new Kubectl({ runner: new FakeRunner(() => ({ exitCode: 1 })) });
  const run = async () => {
    const start = performance.now();
    const manifests = await loadManifests({ workspace: ws.root, paths: ['k8s'], kubectl, namespace: 'perf' });
    const changes = substituteImages(manifests, { 'localhost:5000/gantry/sample-app': NEW_IMAGE });
    addMetadata(manifests, { labels: { 'gantry.dev/commit': 'a'.repeat(40) }, annotations: { 'gantry.dev/run-url': 'https://github.com/acme/shop/actions/runs/1' } });
    return { ms: performance.now() - start, manifests, changes };
  };
  await run(); // warm-up: the first call also pays for JIT compilation of the parser
  const { ms, manifests, changes } = await run();
  console.log(`manifests: ${manifests.length} objects through load + substitute + metadata in ${ms.toFixed(0)} ms`);
  expect(manifests).toHaveLength(OBJECTS);
  expect(changes).toHaveLength(2 * Math.ceil(OBJECTS / 3));
  expect(kubectl.calls).toBe(0);
  expect(ms).toBeLessThan(500);
});
