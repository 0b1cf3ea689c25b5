// Keeps Prometheus's file_sd target list in step with the cluster's pods. Debian's
// Prometheus is built without Kubernetes service discovery, so the stack lists pods
// annotated prometheus.io/scrape=true itself, once a second, and rewrites the file
// atomically when the set changes.
import { execFile } from 'node:child_process';
import { renameSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);
const [kubeconfig, out] = process.argv.slice(2);
if (!kubeconfig || !out) {
  console.error('usage: pod-targets.mjs KUBECONFIG OUTFILE');
  process.exit(2);
}
const labelName = (k) => k.replace(/[^a-zA-Z0-9_]/g, '_').replace(/^([0-9])/, '_$1');

let last = '';
for (;;) {
  try {
    const { stdout } = await run('kubectl', ['--kubeconfig', kubeconfig, 'get', 'pods', '--all-namespaces', '-o', 'json'], { maxBuffer: 64 << 20 });
    const targets = [];
    for (const pod of JSON.parse(stdout).items) {
      const ann = pod.metadata.annotations ?? {};
      if (ann['prometheus.io/scrape'] !== 'true' || pod.status.phase !== 'Running' || !pod.status.podIP) continue;
      const labels = { namespace: pod.metadata.namespace, pod: pod.metadata.name };
      for (const [k, v] of Object.entries(pod.metadata.labels ?? {})) labels[labelName(k)] = v;
      if (ann['prometheus.io/path']) labels.__metrics_path__ = ann['prometheus.io/path'];
      targets.push({ targets: [`${pod.status.podIP}:${ann['prometheus.io/port'] ?? '8080'}`], labels });
    }
    targets.sort((a, b) => a.targets[0].localeCompare(b.targets[0]));
    const text = JSON.stringify(targets, null, 1);
    if (text !== last) {
      writeFileSync(out + '.tmp', text);
      renameSync(out + '.tmp', out);
      last = text;
    }
  } catch (err) {
    console.error(new Date().toISOString(), String(err).split('\n')[0]);
  }
  await new Promise((r) => setTimeout(r, 1000));
}
