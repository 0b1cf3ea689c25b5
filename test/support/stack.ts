// What tests need to know about the local stack (test/stack/stack.sh): where its
// kubeconfigs, Docker socket, registry, Prometheus and Gateway are.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const STACK_DIR = process.env.GANTRY_STACK_DIR ?? join(homedir(), '.cache/gantry/stack');

/** Loads the stack's env file into process.env, without overriding what is already set. */
export function loadStackEnv(): void {
  const file = join(STACK_DIR, 'env');
  if (!existsSync(file)) return;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^export ([A-Z_]+)=(.*)$/.exec(line.trim());
    if (!m) continue;
    const [, name, value] = m as unknown as [string, string, string];
    if (name === 'PATH') {
      // The stack's tool directories go first (its kubectl matches the server), once.
      const dirs = value.replace(/:\$PATH$/, '').split(':');
      const current = (process.env.PATH ?? '').split(':');
      process.env.PATH = [...dirs.filter((d) => !current.includes(d)), ...current].join(':');
    } else if (process.env[name] === undefined) {
      process.env[name] = value;
    }
  }
}

export function stack() {
  loadStackEnv();
  return {
    kubeconfig: process.env.KUBECONFIG ?? join(STACK_DIR, 'kubeconfig'),
    dockerHost: process.env.DOCKER_HOST ?? `unix://${join(STACK_DIR, 'run/docker.sock')}`,
    registry: process.env.GANTRY_REGISTRY ?? 'localhost:5000',
    sampleImage: process.env.GANTRY_SAMPLE_IMAGE ?? 'localhost:5000/gantry/sample-app',
    prometheusUrl: process.env.GANTRY_PROMETHEUS_URL ?? 'http://127.0.0.1:9090',
    /** A kubeconfig whose user is an exec credential plugin (ServiceAccount kube-system/gantry-exec). */
    execKubeconfig: process.env.GANTRY_EXEC_KUBECONFIG ?? join(STACK_DIR, 'kubeconfig-exec'),
    /** Traefik's `web` entrypoint, where the Gateway gatewayNamespace/gatewayName (class gatewayClass) serves. */
    gatewayUrl: process.env.GANTRY_GATEWAY_URL ?? 'http://127.0.0.1:8088',
    gatewayName: process.env.GANTRY_GATEWAY_NAME ?? 'gantry-gateway',
    gatewayNamespace: process.env.GANTRY_GATEWAY_NAMESPACE ?? 'gantry-system',
    gatewayClass: process.env.GANTRY_GATEWAY_CLASS ?? 'traefik',
  };
}

/** A namespace name unique to one test. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
}

/**
 * GET through the API server's service proxy. Endpoints follow a ready pod by a moment,
 * so a request right after a rollout may find none yet: retry for a few seconds.
 */
export async function serviceGet(namespace: string, service: string, path: string, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await new Promise<string>((resolve, reject) =>
        execFile('kubectl', ['get', '--raw', `/api/v1/namespaces/${namespace}/services/${service}/proxy${path}`], (err, stdout, stderr) =>
          err ? reject(new Error(stderr || String(err))) : resolve(stdout),
        ),
      );
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}
