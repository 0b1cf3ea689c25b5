// A namespace ready for pods at once: created, with its default ServiceAccount and
// kube-root-ca.crt in place, so no pod is refused (and retried with backoff) for want of
// the one, nor waits to mount the other. Benchmarks start from one so timings are the rollout's.
import { expect } from 'vitest';
import type { KubeClient } from '../../src/kube/client.js';
import { uniqueName } from './stack.js';

export async function readyNamespace(client: KubeClient, prefix: string): Promise<string> {
  const name = uniqueName(prefix);
  const created = await client.create([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }]);
  expect(created.problems).toEqual([]);
  for (const [kind, object] of [['ServiceAccount', 'default'], ['ConfigMap', 'kube-root-ca.crt']] as const) {
    for (let i = 0; !(await client.get({ apiVersion: 'v1', kind, metadata: { name: object, namespace: name } })); i++) {
      if (i > 200) throw new Error(`no ${kind} ${object} in ${name} after 10 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return name;
}
