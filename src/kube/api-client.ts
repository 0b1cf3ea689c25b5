// ApiClient: the KubeClient that talks to the API server over HTTPS from this process.
//
// What comes from @kubernetes/client-node: reading kubeconfig exactly as kubectl does
// (KUBECONFIG lists, contexts, namespaces, CA data, client certificates, tokens, and exec
// credential plugins such as `aws eks get-token` or `kubelogin`).
//
// What is written here, and why: the requests themselves. The client's generic
// KubernetesObjectApi serialises bodies through its generated models, which drop fields
// the models do not know (any field newer than the client, every custom resource field it
// has no model for) and turn timestamps into Date objects. A deploy tool must send the
// user's manifests as they are, so requests carry plain JSON over one keep-alive agent
// (which also saves a TLS handshake per request: the client builds a new agent per call).
import * as http from 'node:http';
import * as https from 'node:https';
// A deep import: the package index pulls in every generated API (3 MB of bundle) where this needs a fraction.
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { GantryError } from '../errors.js';
import {
  ApplyOptions, BatchResult, FIELD_MANAGER, KubeApiError, KubeClient, KubeObject, ListOptions, ListResult, LogOptions,
  ObjectProblem, ObjectRef, ProxyRequest, ProxyResponse, RequestTimeoutError, WatchEnd, WatchEvent, WatchOptions, WatchStream, serverName,
} from './client.js';

export interface ApiClientOptions {
  /** A kubeconfig file; otherwise KUBECONFIG, then ~/.kube/config, then the in-cluster service account. */
  kubeconfig?: string;
  /** A context of that kubeconfig other than its current one. */
  context?: string;
  /** Requests in flight at once for a batch. */
  concurrency?: number;
  /** How long a request keeps retrying while the API server is unreachable or overloaded. */
  retryForMs?: number;
}

interface Resource {
  plural: string;
  namespaced: boolean;
}

interface Response {
  status: number;
  body: string;
  /** By lower-case name; repeated headers joined with ", ". */
  headers?: Record<string, string>;
}

/** What one request may add: headers beside the credentials, a deadline for the whole answer, a signal that drops it. */
interface SendOptions {
  headers?: Record<string, string>;
  timeoutMs?: number;
  signal?: AbortSignal;
}

interface Status {
  kind?: string;
  message?: string;
  reason?: string;
  code?: number;
}

/** How long the server keeps one watch stream open, and how much longer a silent one may stay before it counts as dead. */
export const WATCH_SECONDS = 20;
const WATCH_GRACE_SECONDS = 5;

/** Network failures and answers worth retrying: the server restarting, overloaded or briefly without etcd. */
function retryable(err: unknown, status?: number): boolean {
  if (status !== undefined) return status === 429 || status === 502 || status === 503 || status === 504;
  const code = (err as { code?: string } | undefined)?.code ?? '';
  return ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'UND_ERR_SOCKET'].includes(code)
    || /socket hang up|ECONNRESET|ECONNREFUSED/.test(String((err as Error | undefined)?.message));
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Methods that may be sent again when no answer came back (RFC 9110 9.2.2): the first may have reached the pods. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);

/** Headers the API server reads for the caller's own identity; through the proxy they never reach the pods. */
const apiServerHeader = (name: string): boolean => /^(authorization|impersonate-.*)$/i.test(name);

/** Sets a header, replacing one of the same name in any case. */
function setHeader(headers: Record<string, string>, name: string, value: string): void {
  for (const key of Object.keys(headers)) if (key.toLowerCase() === name.toLowerCase()) delete headers[key];
  headers[name] = value;
}

const hasHeader = (headers: Record<string, string>, name: string): boolean => Object.keys(headers).some((k) => k.toLowerCase() === name.toLowerCase());

function flatHeaders(headers: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

/** Runs `fn` over `items` with at most `limit` in flight, keeping the results in input order. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

export class ApiClient implements KubeClient {
  readonly namespace: string;
  private readonly server: URL;
  private readonly agent: http.Agent;
  private readonly concurrency: number;
  private readonly retryForMs: number;
  private readonly discovery = new Map<string, Map<string, Resource>>();
  private readonly watches = new Set<WatchStream>();
  private readonly tlsReady: Promise<https.RequestOptions>;

  constructor(readonly config: KubeConfig, options: ApiClientOptions = {}) {
    const cluster = config.getCurrentCluster();
    if (!cluster) throw new GantryError('The kubeconfig names no cluster for its current context', { title: 'No cluster', hint: 'Set `kubeconfig` (and `context`) to a kubeconfig whose current context names a cluster.' });
    this.server = new URL(cluster.server);
    this.namespace = config.getContextObject(config.getCurrentContext())?.namespace || 'default';
    this.concurrency = options.concurrency ?? 16;
    this.retryForMs = options.retryForMs ?? 30_000;
    // TLS material is fixed for the life of the client; credentials (tokens, exec plugins) are applied per request.
    const tls: https.RequestOptions = {};
    this.tlsReady = config.applyToHTTPSOptions(tls).then(() => tls);
    // Reported by the first request that needs it, not as an unhandled rejection.
    this.tlsReady.catch(() => undefined);
    const agentOptions = { keepAlive: true, maxSockets: this.concurrency + 8 };
    this.agent = this.server.protocol === 'https:' ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
  }

  /** Loads kubeconfig the way kubectl does. Bad or missing kubeconfig is an input error naming the file. */
  static fromConfig(options: ApiClientOptions = {}): ApiClient {
    const config = new KubeConfig();
    try {
      if (options.kubeconfig) config.loadFromFile(options.kubeconfig);
      else config.loadFromDefault();
    } catch (err) {
      throw new GantryError(`Could not read the kubeconfig ${options.kubeconfig ?? process.env.KUBECONFIG ?? '~/.kube/config'}: ${err instanceof Error ? err.message : String(err)}`, { title: 'Invalid kubeconfig', cause: err });
    }
    if (options.context) {
      if (!config.getContextObject(options.context)) {
        throw new GantryError(`The kubeconfig has no context "${options.context}"`, { title: 'Invalid input', hint: `Contexts: ${config.getContexts().map((c) => c.name).join(', ') || 'none'}.` });
      }
      config.setCurrentContext(options.context);
    }
    return new ApiClient(config, options);
  }

  // ------------------------------------------------------------------ transport

  /** Where a request goes and how it authenticates: the URL with its query, and the options of http(s).request. */
  private async target(method: string, path: string, query: Record<string, string | undefined>, agent: http.Agent | false): Promise<{ url: URL; options: https.RequestOptions }> {
    const url = new URL(this.server.toString().replace(/\/$/, '') + path);
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') url.searchParams.set(k, v);
    const tls = await this.tlsReady;
    return {
      url,
      options: {
        method, headers: { ...(await this.authHeaders()) }, agent,
        ca: tls.ca, cert: tls.cert, key: tls.key, pfx: tls.pfx, passphrase: tls.passphrase,
        rejectUnauthorized: tls.rejectUnauthorized, servername: tls.servername,
      },
    };
  }

  private async send(method: string, path: string, query: Record<string, string | undefined>, body?: string, contentType?: string, extra: SendOptions = {}): Promise<Response> {
    const { url, options } = await this.target(method, path, query, this.agent);
    const headers = options.headers as Record<string, string>;
    for (const [name, value] of Object.entries(extra.headers ?? {})) setHeader(headers, name, value);
    if (body !== undefined) {
      if (!hasHeader(headers, 'Content-Type')) headers['Content-Type'] = contentType ?? 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(body));
    }
    const transport = url.protocol === 'https:' ? https : http;
    const { signal, timeoutMs } = extra;
    if (signal?.aborted) throw signal.reason;
    return new Promise<Response>((resolve, reject) => {
      // Set before the request is destroyed: once a response has begun, Node reports its own
      // "aborted" instead of the error given to destroy().
      let failure: unknown;
      let timer: NodeJS.Timeout | undefined;
      const onAbort = (): void => drop(signal?.reason);
      const settle = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const fail = (err: unknown): void => {
        settle();
        reject(failure ?? err);
      };
      const req = transport.request(url, options, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          settle();
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: flatHeaders(res.headers) });
        });
        res.on('error', fail);
        res.on('close', () => {
          if (!res.complete) fail(Object.assign(new Error(`${method} ${path}: the answer was cut off`), { code: 'ECONNRESET' }));
        });
      });
      const drop = (err: unknown): void => {
        failure ??= err;
        req.destroy(err instanceof Error ? err : new Error(String(err)));
      };
      req.on('error', fail);
      req.setTimeout(60_000, () => drop(Object.assign(new Error(`${method} ${path}: no answer in 60 s`), { code: 'ETIMEDOUT' })));
      if (timeoutMs !== undefined) timer = setTimeout(() => drop(new RequestTimeoutError(`${method} ${path}: no whole answer within ${timeoutMs} ms`)), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (body !== undefined) req.write(body);
      req.end();
    });
  }

  /**
   * The headers that carry the credentials. Static ones (a token, basic auth, or none beside a
   * client certificate) are worked out once; an exec plugin's or auth provider's token is asked
   * for per request (the library caches it until it expires), so a refreshed one is picked up.
   */
  private async authHeaders(): Promise<Record<string, string>> {
    if (this.staticHeaders) return this.staticHeaders;
    const auth: https.RequestOptions = {};
    await this.config.applyToHTTPSOptions(auth);
    const headers: Record<string, string> = { Accept: 'application/json', ...(auth.headers as Record<string, string> | undefined) };
    if (auth.auth) headers.Authorization = `Basic ${Buffer.from(auth.auth).toString('base64')}`;
    const user = this.config.getCurrentUser();
    if (!user?.exec && !user?.authProvider) this.staticHeaders = headers;
    return headers;
  }

  private staticHeaders?: Record<string, string>;

  /**
   * One request, retried with backoff while the server is unreachable or answers 429/5xx,
   * for up to retryForMs. Service proxy requests go their own way (proxyRequest): there a
   * 503 is the pods' (or their absence's) answer, a measurement.
   */
  private async request(method: string, path: string, query: Record<string, string | undefined> = {}, body?: string, contentType?: string): Promise<Response> {
    const deadline = Date.now() + this.retryForMs;
    for (let attempt = 0; ; attempt++) {
      let res: Response | undefined;
      let error: unknown;
      try {
        res = await this.send(method, path, query, body, contentType);
        if (!retryable(undefined, res.status)) return res;
      } catch (err) {
        if (!retryable(err)) throw err;
        error = err;
      }
      if (Date.now() >= deadline) {
        if (res) return res;
        throw new KubeApiError(`Could not reach the API server ${this.server.host} (${method} ${path}): ${(error as Error).message}`);
      }
      await sleep(Math.min(2000, 100 * 2 ** attempt));
    }
  }

  private static parseStatus(res: Response): Status {
    try {
      return JSON.parse(res.body) as Status;
    } catch {
      return { message: res.body.trim() || `HTTP ${res.status}` };
    }
  }

  private static problem(o: ObjectRef | undefined, res: Response, index?: number): ObjectProblem {
    const status = ApiClient.parseStatus(res);
    const message = status.message || `HTTP ${res.status}`;
    return { object: o ? serverName(o) : undefined, index, reason: status.reason, code: res.status, message };
  }

  private static json<T>(res: Response): T {
    return JSON.parse(res.body) as T;
  }

  // ------------------------------------------------------------------ discovery

  private async resources(apiVersion: string, refresh: boolean): Promise<Map<string, Resource> | undefined> {
    const cached = this.discovery.get(apiVersion);
    if (cached && !refresh) return cached;
    const res = await this.request('GET', apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`);
    if (res.status === 404) return undefined;
    if (res.status >= 400) throw new KubeApiError(`Discovery of ${apiVersion} failed: ${ApiClient.parseStatus(res).message}`, res.status);
    const list = ApiClient.json<{ resources: { name: string; kind: string; namespaced: boolean }[] }>(res);
    const byKind = new Map<string, Resource>();
    for (const r of list.resources ?? []) if (!r.name.includes('/')) byKind.set(r.kind, { plural: r.name, namespaced: r.namespaced });
    this.discovery.set(apiVersion, byKind);
    return byKind;
  }

  /** The resource serving a kind; asks the server again on a miss, so a CRD established a moment ago is found. */
  private async resource(apiVersion: string, kind: string): Promise<Resource | undefined> {
    const found = (await this.resources(apiVersion, false))?.get(kind);
    return found ?? (await this.resources(apiVersion, true))?.get(kind);
  }

  async serves(apiVersion: string, kind: string): Promise<boolean> {
    return (await this.resource(apiVersion, kind)) !== undefined;
  }

  async clusterScoped(apiVersion: string, kind: string): Promise<boolean | undefined> {
    const r = await this.resource(apiVersion, kind);
    return r === undefined ? undefined : !r.namespaced;
  }

  private async path(o: { apiVersion: string; kind: string; metadata?: { name?: string; namespace?: string } }, withName: boolean, namespace?: string): Promise<string | undefined> {
    const r = await this.resource(o.apiVersion, o.kind);
    if (!r) return undefined;
    const base = o.apiVersion.includes('/') ? `/apis/${o.apiVersion}` : `/api/${o.apiVersion}`;
    const ns = r.namespaced ? (namespace ?? o.metadata?.namespace ?? this.namespace) : undefined;
    const name = withName ? `/${encodeURIComponent(o.metadata?.name ?? '')}` : '';
    return `${base}${ns ? `/namespaces/${encodeURIComponent(ns)}` : ''}/${r.plural}${name}`;
  }

  private static unknownKind(o: ObjectRef, index?: number): ObjectProblem {
    return { object: serverName(o), index, reason: 'NotFound', code: 404, message: `no matches for kind "${o.kind}" in version "${o.apiVersion}" (${serverName(o)}): the server does not serve this kind; is its CRD installed?` };
  }

  // ------------------------------------------------------------------ verbs

  /** Runs one write per object and collects objects and problems in input order. */
  private async batch(objects: ObjectRef[], write: (o: ObjectRef, path: string) => Promise<Response>, withName: boolean): Promise<BatchResult> {
    const results = await mapLimit(objects, this.concurrency, async (o, index) => {
      const path = await this.path(o, withName);
      if (!path) return { problem: ApiClient.unknownKind(o, index) };
      const res = await write(o, path);
      if (res.status >= 400) return { problem: ApiClient.problem(o, res, index) };
      return { object: res.body ? ApiClient.json<KubeObject>(res) : undefined };
    });
    const out: BatchResult = { ok: true, objects: [], problems: [] };
    for (const r of results) {
      if ('problem' in r && r.problem) out.problems.push(r.problem);
      else if ('object' in r && r.object) out.objects.push(r.object);
    }
    out.ok = out.problems.length === 0;
    return out;
  }

  async apply(objects: KubeObject[], options: ApplyOptions = {}): Promise<BatchResult> {
    const query = {
      fieldManager: options.fieldManager ?? FIELD_MANAGER,
      force: options.force === false ? undefined : 'true',
      dryRun: options.dryRun ? 'All' : undefined,
    };
    // JSON is YAML, so the apply patch content type takes the object as JSON unchanged.
    return this.batch(objects, (o, path) => this.request('PATCH', path, query, JSON.stringify(o), 'application/apply-patch+yaml'), true);
  }

  async create(objects: KubeObject[], options: { fieldManager?: string } = {}): Promise<BatchResult> {
    return this.batch(objects, (o, path) => this.request('POST', path, { fieldManager: options.fieldManager ?? FIELD_MANAGER }, JSON.stringify(o)), false);
  }

  async replace(objects: KubeObject[], options: { fieldManager?: string } = {}): Promise<BatchResult> {
    return this.batch(objects, (o, path) => this.request('PUT', path, { fieldManager: options.fieldManager ?? FIELD_MANAGER }, JSON.stringify(o)), true);
  }

  async patch(ref: ObjectRef, patch: Record<string, unknown>, options: { fieldManager?: string; dryRun?: boolean } = {}): Promise<KubeObject> {
    const path = await this.path(ref, true);
    if (!path) throw new KubeApiError(ApiClient.unknownKind(ref).message, 404, 'NotFound');
    const res = await this.request('PATCH', path, { fieldManager: options.fieldManager ?? FIELD_MANAGER, dryRun: options.dryRun ? 'All' : undefined }, JSON.stringify(patch), 'application/merge-patch+json');
    if (res.status >= 400) {
      const p = ApiClient.problem(ref, res);
      throw new KubeApiError(`Could not patch ${serverName(ref)}: ${p.message}`, res.status, p.reason);
    }
    return ApiClient.json<KubeObject>(res);
  }

  async get<T extends KubeObject = KubeObject>(ref: ObjectRef): Promise<T | undefined> {
    const path = await this.path(ref, true);
    if (!path) return undefined;
    const res = await this.request('GET', path);
    if (res.status === 404) return undefined;
    if (res.status >= 400) throw new KubeApiError(`Could not read ${serverName(ref)}: ${ApiClient.problem(ref, res).message}`, res.status, ApiClient.parseStatus(res).reason);
    return ApiClient.json<T>(res);
  }

  async getObjects(refs: ObjectRef[]): Promise<KubeObject[]> {
    const found = await mapLimit(refs, this.concurrency, (ref) => this.get(ref));
    return found.filter((o): o is KubeObject => o !== undefined);
  }

  async delete(refs: ObjectRef[]): Promise<BatchResult> {
    const body = JSON.stringify({ apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: 'Background' });
    const result = await this.batch(refs, async (_o, path) => {
      const res = await this.request('DELETE', path, {}, body);
      // Already gone is what the caller wanted.
      return res.status === 404 ? { status: 200, body: '' } : res;
    }, true);
    // A kind the server does not serve has nothing to delete.
    result.problems = result.problems.filter((p) => !(p.code === 404 && p.reason === 'NotFound' && /no matches for kind/.test(p.message)));
    result.ok = result.problems.length === 0;
    return result;
  }

  async list<T extends KubeObject = KubeObject>(apiVersion: string, kind: string, namespace: string | undefined, options: ListOptions = {}): Promise<ListResult<T>> {
    const path = await this.path({ apiVersion, kind }, false, namespace ?? '');
    if (!path) return { items: [], resourceVersion: '' };
    const res = await this.request('GET', path, { labelSelector: options.labelSelector, fieldSelector: options.fieldSelector });
    if (res.status >= 400) throw new KubeApiError(`Could not list ${kind} in ${namespace ?? 'all namespaces'}: ${ApiClient.parseStatus(res).message}`, res.status);
    const list = ApiClient.json<{ items: T[]; metadata?: { resourceVersion?: string } }>(res);
    // Items of a list come without apiVersion and kind.
    for (const item of list.items) Object.assign(item, { apiVersion, kind });
    return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? '' };
  }

  /**
   * A watch as one streamed GET. Hand-written rather than the library's Watch: that one did
   * not notice an API server killed mid-watch (measured here: the stream stayed open, silent,
   * until stopped), while a plain request sees its socket close and ends the stream, so the
   * informer resumes it. A connection can also go half-open (the server gone without a word:
   * seen here when the API server restarts), so the server is asked to end each stream after
   * WATCH_SECONDS, and a stream still open well after that is given up as dead. Resuming from
   * the last resourceVersion costs one request and misses nothing.
   */
  watch(apiVersion: string, kind: string, options: WatchOptions, onEvent: (event: WatchEvent) => void): WatchStream {
    let request: http.ClientRequest | undefined;
    let settle!: (end: WatchEnd) => void;
    const done = new Promise<WatchEnd>((resolve) => { settle = resolve; });
    let ended = false;
    const end = (e: WatchEnd): void => {
      if (ended) return;
      ended = true;
      this.watches.delete(stream);
      request?.destroy();
      settle(e);
    };
    const stream: WatchStream = { stop: () => end({ reason: 'closed' }), done };
    this.watches.add(stream);
    const fail = (err: unknown): void => end({ reason: 'error', error: err instanceof Error ? err : new Error(String(err)) });
    void (async () => {
      const path = await this.path({ apiVersion, kind }, false, options.namespace ?? '');
      if (!path) return end({ reason: 'error', error: new KubeApiError(`the server does not serve ${kind} (${apiVersion})`, 404) });
      // Its own connection (no pooling): a watch holds it for as long as it runs.
      const { url, options: requestOptions } = await this.target('GET', path, {
        watch: 'true', resourceVersion: options.resourceVersion, allowWatchBookmarks: 'true', timeoutSeconds: String(WATCH_SECONDS),
        labelSelector: options.labelSelector, fieldSelector: options.fieldSelector,
      }, false);
      if (ended) return;
      const transport = url.protocol === 'https:' ? https : http;
      const opened = Date.now();
      const deadline = setTimeout(() => fail(new Error(`no word from the server ${WATCH_SECONDS + WATCH_GRACE_SECONDS} s into a ${WATCH_SECONDS} s watch`)), (WATCH_SECONDS + WATCH_GRACE_SECONDS) * 1000);
      void done.then(() => clearTimeout(deadline));
      // The server ends a stream cleanly after timeoutSeconds: that is the plan, not a drop. A
      // connection that closes without the end of the response was lost, whenever it happens.
      let clean = false;
      const closed = (): void => {
        if (!clean) return fail(new Error('the connection was lost'));
        end(Date.now() - opened >= WATCH_SECONDS * 1000 - 1000 ? { reason: 'recycled' } : { reason: 'closed' });
      };
      request = transport.request(url, requestOptions, (res) => {
        if (res.statusCode !== 200) {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const status = ApiClient.parseStatus({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
            end(res.statusCode === 410 ? { reason: 'gone' } : { reason: 'error', error: new KubeApiError(`watch of ${kind}: ${status.message ?? `HTTP ${res.statusCode}`}`, res.statusCode, status.reason) });
          });
          return;
        }
        res.setEncoding('utf8');
        let buffered = '';
        res.on('data', (chunk: string) => {
          buffered += chunk;
          for (let nl = buffered.indexOf('\n'); nl >= 0 && !ended; nl = buffered.indexOf('\n')) {
            const line = buffered.slice(0, nl).trim();
            buffered = buffered.slice(nl + 1);
            if (line === '') continue;
            let event: { type: string; object: KubeObject & Status };
            try {
              event = JSON.parse(line) as { type: string; object: KubeObject & Status };
            } catch (err) {
              return fail(err);
            }
            const o = event.object;
            // The server says our resourceVersion is too old: the caller must list again.
            if (event.type === 'ERROR') return end(o.code === 410 ? { reason: 'gone' } : { reason: 'error', error: new KubeApiError(o.message ?? 'watch error', o.code, o.reason) });
            if (!o.apiVersion) Object.assign(o, { apiVersion, kind });
            onEvent({ type: event.type as WatchEvent['type'], object: o });
          }
        });
        res.on('end', () => {
          clean = true;
          closed();
        });
        res.on('close', closed);
        res.on('error', fail);
      });
      request.on('socket', (socket) => socket.setKeepAlive(true, 10_000));
      request.on('error', fail);
      request.end();
    })().catch(fail);
    return stream;
  }

  async logs(namespace: string, pod: string, container: string, options: LogOptions = {}): Promise<string> {
    const res = await this.request('GET', `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}/log`, {
      container, tailLines: String(options.tail ?? 20), previous: options.previous ? 'true' : undefined,
    });
    return res.status === 200 ? res.body : '';
  }

  /**
   * Any answer is the measurement, so it is returned as it is: a 503 from the proxy is the
   * pods' absence, not an overloaded API server. Only a request that got no answer at all is
   * sent again (an API server restarting, a kept-alive socket it had closed), and only when
   * its method is idempotent, all within the request's timeout.
   */
  async proxyRequest(request: ProxyRequest): Promise<ProxyResponse> {
    const method = (request.method ?? 'GET').toUpperCase();
    const rest = request.path.startsWith('/') ? request.path : `/${request.path}`;
    const path = `/api/v1/namespaces/${encodeURIComponent(request.namespace)}/services/${encodeURIComponent(`${request.service}:${request.port}`)}/proxy${rest}`;
    // Any content type for the pods; the proxy's own errors come as JSON Status either way.
    const headers: Record<string, string> = { Accept: '*/*' };
    for (const [name, value] of Object.entries(request.headers ?? {})) if (!apiServerHeader(name)) setHeader(headers, name, value);
    const started = Date.now();
    const deadline = started + Math.min(request.timeoutMs ?? this.retryForMs, this.retryForMs);
    for (let attempt = 0; ; attempt++) {
      // The path holds the query already: the proxy passes it on as written.
      try {
        const res = await this.send(method, path, {}, request.body, undefined, {
          headers, signal: request.signal, timeoutMs: request.timeoutMs === undefined ? undefined : Math.max(1, started + request.timeoutMs - Date.now()),
        });
        return { status: res.status, body: res.body, headers: res.headers };
      } catch (err) {
        const wait = Math.min(2000, 100 * 2 ** attempt);
        if (!IDEMPOTENT.has(method) || !retryable(err) || request.signal?.aborted || Date.now() + wait >= deadline) throw err;
        await sleep(wait);
      }
    }
  }

  close(): void {
    for (const w of [...this.watches]) w.stop();
    this.agent.destroy();
  }
}
