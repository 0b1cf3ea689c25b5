// Kustomize overlays and Helm charts rendered by the real tools (kubectl 1.32, helm 3.19;
// no cluster needed) load with the right names, namespaces and source files.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { GantryErrors } from '../../src/errors.js';
import { Kubectl } from '../../src/kube/kubectl.js';
import { addMetadata, loadManifests, substituteImages, type Manifest } from '../../src/kube/manifests.js';

const REPO_ROOT = resolve(import.meta.dirname, '../..');
const FIXTURES = 'test/fixtures/manifests';
const NEW_IMAGE = `localhost:5000/gantry/sample-app@sha256:${'d'.repeat(64)}`;
const HELM_BUILD = 'GOBIN=$HOME/.cache/gantry/tools go install helm.sh/helm/v3/cmd/helm@v3.19.0';

function findHelm(): string {
  const candidates = [join(homedir(), '.cache/gantry/tools/helm'), ...(process.env.PATH ?? '').split(delimiter).map((d) => join(d, 'helm'))];
  const found = candidates.find((c) => existsSync(c));
  if (!found) throw new Error(`helm not found at ~/.cache/gantry/tools/helm or on PATH; build it with: ${HELM_BUILD}`);
  return found;
}

const summary = (ms: Manifest[]) => ms.map((m) => `${m.object.kind} ${m.object.metadata.namespace}/${m.object.metadata.name} @ ${m.file}:${m.line}`);

describe('kustomize with the real kubectl', () => {
  test('an overlay renders with its prefix and namespace, in one kubectl call, and takes the new image', async () => {
    const kubectl = new Kubectl();
    const manifests = await loadManifests({ workspace: REPO_ROOT, paths: [`${FIXTURES}/kustomize/overlay`], kubectl, namespace: 'ignored-because-kustomize-sets-one' });
    expect(kubectl.calls).toBe(1);
    const file = `${FIXTURES}/kustomize/overlay/kustomization.yaml`;
    expect(summary(manifests)).toEqual([
      expect.stringMatching(new RegExp(`^ConfigMap shop/prod-settings-[a-z0-9]+ @ ${file}:1$`)),
      expect.stringMatching(new RegExp(`^Service shop/prod-web @ ${file}:\\d+$`)),
      expect.stringMatching(new RegExp(`^Deployment shop/prod-web @ ${file}:\\d+$`)),
    ]);
    const changes = substituteImages(manifests, { 'localhost:5000/gantry/sample-app': NEW_IMAGE });
    expect(changes.map((c) => `${c.kind}/${c.name} ${c.container}: ${c.to}`)).toEqual([`Deployment/prod-web web: ${NEW_IMAGE}`]);
  });

  test('a kustomization that points at a missing resource is reported at the kustomization', async () => {
    const err = await loadManifests({ workspace: REPO_ROOT, paths: [`${FIXTURES}/kustomize/broken`], kubectl: new Kubectl() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GantryErrors);
    const [error] = (err as GantryErrors).errors;
    expect(error!.message).toMatch(/^kustomize could not build test\/fixtures\/manifests\/kustomize\/broken: .*missing\.yaml/);
    expect(error!.location).toEqual({ file: `${FIXTURES}/kustomize/broken/kustomization.yaml` });
  });
});

describe('helm with the real helm binary', () => {
  test('a chart renders with values files and --set, leaves out test hooks, and points at its templates', async () => {
    const manifests = await loadManifests({
      workspace: REPO_ROOT,
      paths: [`${FIXTURES}/chart/web`],
      kubectl: new Kubectl(),
      namespace: 'shop',
      helm: { binary: findHelm(), releaseName: 'store', valuesFiles: [`${FIXTURES}/chart/values-prod.yaml`], set: { mode: 'prod' } },
    });
    expect(summary(manifests)).toEqual([`Service shop/store @ ${FIXTURES}/chart/web/templates/service.yaml:1`, `Deployment shop/store @ ${FIXTURES}/chart/web/templates/deployment.yaml:1`]);
    const deployment = manifests[1]!.object as unknown as { spec: { replicas: number; template: { spec: { containers: { env: unknown[] }[] } } } };
    expect(deployment.spec.replicas).toBe(3);
    expect(deployment.spec.template.spec.containers[0]!.env).toEqual([{ name: 'MODE', value: 'prod' }]);

    substituteImages(manifests, { 'localhost:5000/gantry/sample-app': NEW_IMAGE });
    addMetadata(manifests, { labels: { 'gantry.dev/commit': 'abc123' } });
    expect(JSON.stringify(manifests[1]!.object)).toContain(NEW_IMAGE);
    expect(manifests.every((m) => m.object.metadata.labels?.['gantry.dev/commit'] === 'abc123')).toBe(true);
  });

  test('a failing template is reported at the template file and line', async () => {
    const err = await loadManifests({ workspace: REPO_ROOT, paths: [`${FIXTURES}/chart/broken`], kubectl: new Kubectl(), helm: { binary: findHelm(), releaseName: 'x' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GantryErrors);
    const [error] = (err as GantryErrors).errors;
    expect(error!.message).toContain('values.setting is required');
    expect(error!.location).toEqual({ file: `${FIXTURES}/chart/broken/templates/configmap.yaml`, line: 6, column: 12 });
  });
});
