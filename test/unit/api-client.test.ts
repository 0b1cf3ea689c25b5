// ApiClient against a small API server on loopback: what goes over the wire (server-side
// apply as a PATCH with the apply content type, field manager, force, dryRun=All), how
// answers become per-object problems, retries while the server is away, and credentials
// from an exec plugin. A real HTTP exchange; nothing is mocked.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { IncomingMessage, Server, ServerResponse, createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiClient, mapLimit } from '../../src/kube/api-client.js';
import type { KubeObject } from '../../src/kube/client.js';

interface Seen {
  method: string;
  path: string;
  query: Record<string, string>;
  contentType?: string;
  authorization?: string;
  body?: unknown;
}

type Handler = (req: Seen) => { status: number; body?: unknown } | undefined;

const discovery: Record<string, unknown> = {
  '/api/v1': { resources: [{ name: 'configmaps', kind: 'ConfigMap', namespaced: true }, { name: 'namespaces', kind: 'Namespace', namespaced: false }, { name: 'pods', kind: 'Pod', namespaced: true }, { name: 'pods/log', kind: 'Pod', namespaced: true }] },
  '/apis/apps/v1': { resources: [{ name: 'deployments', kind: 'Deployment', namespaced: true }] },
};

let server: Server | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  server = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function start(handler: Handler): Promise<{ seen: Seen[]; url: string }> {
  const seen: Seen[] = [];
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const text = Buffer.concat(chunks).toString();
      const s: Seen = {
        method: req.method ?? '', path: url.pathname, query: Object.fromEntries(url.searchParams),
        contentType: req.headers['content-type'], authorization: req.headers.authorization, body: text ? JSON.parse(text) : undefined,
      };
      const answer = discovery[s.path] ? { status: 200, body: discovery[s.path] } : handler(s);
      if (!discovery[s.path]) seen.push(s);
      res.writeHead(answer?.status ?? 404, { 'Content-Type': 'application/json' });
      res.end(typeof answer?.body === 'string' ? answer.body : JSON.stringify(answer?.body ?? { kind: 'Status', reason: 'NotFound', message: 'not found', code: 404 }));
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return { seen, url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}` };
}

function kubeconfig(url: string, user: string, namespace = 'shop'): string {
  const dir = mkdtempSync(join(tmpdir(), 'gantry-kc-'));
  dirs.push(dir);
  const file = join(dir, 'config');
  writeFileSync(file, `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "${url}", insecure-skip-tls-verify: true}}]
users: [{name: u, user: ${user}}]
contexts: [{name: main, context: {cluster: c, user: u, namespace: ${namespace}}}, {name: other, context: {cluster: c, user: u, namespace: elsewhere}}]
current-context: main
`);
  return file;
}

const cm = (name: string, namespace?: string): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, ...(namespace ? { namespace } : {}) }, data: { a: '1' } });
const invalid = (name: string) => ({ kind: 'Status', status: 'Failure', reason: 'Invalid', code: 422, message: `ConfigMap "${name}" is invalid: data.a: Invalid value` });

describe('ApiClient', () => {
  it('applies server-side: one PATCH per object with the apply content type, field manager gantry, force, and dryRun=All for validation', async () => {
    const { seen, url } = await start((s) => ({ status: 200, body: { ...(s.body as object), metadata: { ...(s.body as KubeObject).metadata, uid: 'u1' } } }));
    const client = ApiClient.fromConfig({ kubeconfig: kubeconfig(url, '{token: t0k3n}') });
    const result = await client.apply([cm('a', 'prod'), cm('b')], { dryRun: true });
    client.close();
    expect(result.ok).toBe(true);
    expect(result.objects.map((o) => o.metadata.uid)).toEqual(['u1', 'u1']);
    expect(seen.map((s) => `${s.method} ${s.path}`).sort()).toEqual(['PATCH /api/v1/namespaces/prod/configmaps/a', 'PATCH /api/v1/namespaces/shop/configmaps/b']);
    expect(seen[0]).toMatchObject({ contentType: 'application/apply-patch+yaml', authorization: 'Bearer t0k3n', query: { fieldManager: 'gantry', force: 'true', dryRun: 'All' } });
  });

  it('keeps every field of the manifest as written, including ones no client model knows', async () => {
    const { seen, url } = await start((s) => ({ status: 200, body: s.body }));
    const client = ApiClient.fromConfig({ kubeconfig: kubeconfig(url, '{token: x}') });
    const o = { ...cm('a'), futureField: { enabled: true }, metadata: { name: 'a', creationTimestamp: null } } as unknown as KubeObject;
    await client.apply([o]);
    client.close();
    expect(seen[0]!.body).toEqual(o);
  });

  it('reports one problem per rejected object, with its position, the server\'s reason and message, and keeps the rest', async () => {
    const { url } = await start((s) => (s.path.endsWith('/bad') ? { status: 422, body: invalid('bad') } : s.method === 'GET' ? undefined : { status: 200, body: s.body }));
    const client = ApiClient.fromConfig({ kubeconfig: kubeconfig(url, '{token: x}') });
    const result = await client.apply([cm('good'), cm('bad'), { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } }]);
    client.close();
    expect(result.ok).toBe(false);
    expect(result.objects.map((o) => o.metadata.name)).toEqual(['good']);
    expect(result.problems).toEqual([
      { object: 'ConfigMap "bad"', index: 1, reason: 'Invalid', code: 422, message: 'ConfigMap "bad" is invalid: data.a: Invalid value' },
      expect.objectContaining({ object: 'Widget.example.com "w"', index: 2, code: 404, message: expect.stringMatching(/no matches for kind "Widget" in version "example.com\/v1"/) }),
    ]);
  });

  it('treats a missing object as absent on get, and as done on delete', async () => {
    const { seen, url } = await start((s) => (s.method === 'DELETE' ? { status: 404 } : undefined));
    const client = ApiClient.fromConfig({ kubeconfig: kubeconfig(url, '{token: x}') });
    expect(await client.get(cm('gone'))).toBeUndefined();
    expect((await client.delete([cm('gone')])).ok).toBe(true);
    client.close();
    expect(seen.find((s) => s.method === 'DELETE')!.body).toMatchObject({ propagationPolicy: 'Background' });
  });

  it('lists with selectors, fills in kind and apiVersion, and returns the list\'s resourceVersion', async () => {
    const { seen, url } = await start(() => ({ status: 200, body: { metadata: { resourceVersion: '42' }, items: [{ metadata: { name: 'p1' } }] } }));
    const client = ApiClient.fromConfig({ kubeconfig: kubeconfig(url, '{token: x}') });
    const list = await client.list('v1', 'Pod', 'prod', { labelSelector: 'app=web' });
    const all = await client.list('v1', 'Pod', undefined);
    client.close();
    expect(list).toEqual({ resourceVersion: '42', items: [{ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p1' } }] });
    expect(all.items).toHaveLength(1);
    expect(seen.map((s) => [s.path, s.query.labelSelector])).toEqual([['/api/v1/namespaces/prod/pods', 'app=web'], ['/api/v1/pods', undefined]]);
  });

  it('retries while the server answers 503, then succeeds', async () => {
    let calls = 0;
    const { url } = await start((s) => (++calls < 3 ? { status: 503, body: { kind: 'Status', message: 'etcdserver: leader changed' } } : { status: 200, body: s.body }));
    const client = ApiClient.fromConfig({ kubeconfig: kubeconfig(url, '{token: x}') });
    const result = await client.apply([cm('a')]);
    client.close();
    expect(result.ok).toBe(true);
    expect(calls).toBe(3);
  });

  it('says which server it could not reach once the retries run out', async () => {
    const { url } = await start(() => undefined);
    await new Promise((r) => server!.close(r));
    server = undefined;
    const client = ApiClient.fromConfig({ kubeconfig: kubeconfig(url, '{token: x}'), retryForMs: 300 });
    await expect(client.get(cm('a'))).rejects.toThrow(/Could not reach the API server 127\.0\.0\.1:\d+ \(GET \/api\/v1\)/);
    client.close();
  });

  it('authenticates with the token an exec credential plugin prints, as kubectl does', async () => {
    const { seen, url } = await start((s) => ({ status: 200, body: { ...cm('a'), metadata: { name: s.path } } }));
    const dir = mkdtempSync(join(tmpdir(), 'gantry-exec-'));
    dirs.push(dir);
    const plugin = join(dir, 'get-token');
    writeFileSync(plugin, `#!/bin/sh\necho '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"from-plugin","expirationTimestamp":"2999-01-01T00:00:00Z"}}'\n`);
    chmodSync(plugin, 0o755);
    const client = ApiClient.fromConfig({ kubeconfig: kubeconfig(url, `{exec: {apiVersion: client.authentication.k8s.io/v1, command: "${plugin}", interactiveMode: Never}}`) });
    await client.get(cm('a'));
    client.close();
    expect(seen[0]!.authorization).toBe('Bearer from-plugin');
  });

  it('uses the namespace of the chosen context, and names a context that does not exist', async () => {
    const { url } = await start(() => undefined);
    const file = kubeconfig(url, '{token: x}');
    const other = ApiClient.fromConfig({ kubeconfig: file, context: 'other' });
    expect(other.namespace).toBe('elsewhere');
    other.close();
    expect(() => ApiClient.fromConfig({ kubeconfig: file, context: 'nope' })).toThrow(/The kubeconfig has no context "nope"[\s\S]*/);
  });

  it('keeps at most the given number of requests in flight, in input order', async () => {
    let inFlight = 0;
    let peak = 0;
    const out = await mapLimit(Array.from({ length: 50 }, (_, i) => i), 8, async (i) => {
      peak = Math.max(peak, ++inFlight);
      await new Promise((r) => setTimeout(r, 1));
      inFlight--;
      return i * 2;
    });
    expect(peak).toBe(8);
    expect(out).toEqual(Array.from({ length: 50 }, (_, i) => i * 2));
  });
});
