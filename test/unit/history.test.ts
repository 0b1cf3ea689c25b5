import { describe, expect, it } from 'vitest';
import { imagesOf, resolvedDigests } from '../../src/kube/history.js';
import { KubeObject } from '../../src/kube/client.js';

const D_NEW = 'sha256:' + 'a'.repeat(64);
const D_OLD = 'sha256:' + 'b'.repeat(64);

function pod(name: string, image: string, imageID: string, terminating = false): KubeObject {
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name, ...(terminating ? { deletionTimestamp: '2026-11-23T00:00:00Z' } : {}) },
    status: { containerStatuses: [{ image, imageID }] },
  };
}

describe('revision history', () => {
  it('lists the image of every container and initContainer of each workload kind', () => {
    const deployment: KubeObject = {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' },
      spec: { template: { spec: { initContainers: [{ name: 'migrate', image: 'localhost:5000/web-migrate:v2' }], containers: [{ name: 'app', image: 'localhost:5000/web:v2' }] } } },
    };
    const cronjob: KubeObject = {
      apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'nightly' },
      spec: { jobTemplate: { spec: { template: { spec: { containers: [{ name: 'task', image: 'localhost:5000/task:1' }] } } } } },
    };
    const config: KubeObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } };
    expect(imagesOf([deployment, cronjob, config])).toEqual({
      'Deployment/web/migrate': 'localhost:5000/web-migrate:v2',
      'Deployment/web/app': 'localhost:5000/web:v2',
      'CronJob/nightly/task': 'localhost:5000/task:1',
    });
  });

  it('records the digest a tag resolved to on the node, ignoring pods that are going away', () => {
    const pods = [
      pod('old', 'localhost:5000/web:v2', `localhost:5000/web@${D_OLD}`, true),
      pod('new', 'localhost:5000/web:v2', `localhost:5000/web@${D_NEW}`),
      pod('other', 'localhost:5000/other:v1', `localhost:5000/other@${D_OLD}`),
    ];
    expect(resolvedDigests(['localhost:5000/web:v2'], pods)).toEqual({ 'localhost:5000/web:v2': `localhost:5000/web@${D_NEW}` });
  });

  it('names Docker Hub images in full and skips statuses without a digest', () => {
    const pods = [pod('a', 'nginx:1.27', `docker.io/library/nginx@${D_NEW}`), pod('b', 'busybox:1', '')];
    expect(resolvedDigests(['nginx:1.27', 'busybox:1'], pods)).toEqual({ 'nginx:1.27': `docker.io/library/nginx@${D_NEW}` });
  });
});
