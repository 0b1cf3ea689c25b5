// The seam between Gantry and a cluster. Everything that reads, writes or watches the
// cluster goes through one KubeClient: production code passes ApiClient (HTTP calls and
// watches from one Node process, kube/api-client.ts); unit tests pass an in-memory fake.
// The interface knows objects and verbs, never rollouts or strategies.

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

/** Just enough of an object to name it: apiVersion, kind, name and namespace. */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
}

/** Gantry's field manager: the owner of every field Gantry sets with server-side apply. */
export const FIELD_MANAGER = 'gantry';

/** A problem the server reported for one object of a batch. */
export interface ObjectProblem {
  /** The object as users read it, e.g. `Deployment.apps "web"`; undefined when the problem names none. */
  object?: string;
  /** Position of the object in the batch the caller passed, so it can be traced back to a file:line. */
  index?: number;
  /** The server's reason (`Invalid`, `NotFound`, `AlreadyExists`, `Conflict`, `Forbidden`, …) when it gave one. */
  reason?: string;
  /** HTTP status code, when there was a response. */
  code?: number;
  message: string;
}

/** What a batch did: the objects the server returned (in input order, where it accepted them) and every problem. */
export interface BatchResult {
  ok: boolean;
  objects: KubeObject[];
  problems: ObjectProblem[];
}

export interface ApplyOptions {
  /** Validate only: the server runs admission and defaulting and stores nothing. */
  dryRun?: boolean;
  fieldManager?: string;
  /** Take over fields other managers own (default true: Gantry's manifests are the source of truth). */
  force?: boolean;
}

export interface ListOptions {
  labelSelector?: string;
  fieldSelector?: string;
}

export interface ListResult<T extends KubeObject = KubeObject> {
  items: T[];
  /** The list's resourceVersion: a watch started from it misses no change. */
  resourceVersion: string;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';

export interface WatchEvent {
  type: WatchEventType;
  object: KubeObject;
}

/**
 * Why a watch stream ended: the server expired our resourceVersion (410 Gone), the stream
 * reached its planned end (the server closes watches after a while, `recycled`), or the
 * connection ended early or failed.
 */
export type WatchEnd = { reason: 'gone' } | { reason: 'recycled' } | { reason: 'closed' } | { reason: 'error'; error: Error };

export interface WatchOptions extends ListOptions {
  namespace?: string;
  /** Start after this resourceVersion (from a list or the last event seen). */
  resourceVersion: string;
}

export interface WatchStream {
  /** Ends the stream; `done` then resolves with `closed`. */
  stop(): void;
  readonly done: Promise<WatchEnd>;
}

export interface LogOptions {
  tail?: number;
  /** The previous, crashed instance of the container. */
  previous?: boolean;
}

/** One HTTP request to a Service's port through the API server's service proxy (`…/services/NAME:PORT/proxy/PATH`). */
export interface ProxyRequest {
  namespace: string;
  service: string;
  /** The Service port, by number or by name. */
  port: number | string;
  /** The path on the Service, with its query: `/healthz?full=1`. */
  path: string;
  /** Default GET. */
  method?: string;
  /**
   * Passed on to the pods. Authorization and Impersonate-* are the API server's own (it reads
   * them for Gantry's credentials and does not pass them on), so they are not taken from here.
   */
  headers?: Record<string, string>;
  body?: string;
  /**
   * The longest the whole answer may take; past it the request is dropped and the promise
   * rejects with an error named `TimeoutError` (as the platform's AbortSignal.timeout does).
   */
  timeoutMs?: number;
  /** Drops the request; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** What the pods answered, or the API server's own Status when its proxy could not reach them. */
export interface ProxyResponse {
  status: number;
  body: string;
  /** Response headers by lower-case name, where the client keeps them. */
  headers?: Record<string, string>;
}

/** Thrown when a request got no whole answer within its timeout; the name is the one AbortSignal.timeout uses. */
export class RequestTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TimeoutError';
  }
}

export interface KubeClient {
  /** The namespace of the kubeconfig's current context (or `default`). */
  readonly namespace: string;
  /** Server-side apply of every object (bounded concurrency); one problem per rejected object. */
  apply(objects: KubeObject[], options?: ApplyOptions): Promise<BatchResult>;
  /** Creates each object; `AlreadyExists` comes back as a problem, not a throw. */
  create(objects: KubeObject[], options?: { fieldManager?: string }): Promise<BatchResult>;
  /** Replaces each object with exactly the given content (PUT); a resourceVersion in it makes the write conditional. */
  replace(objects: KubeObject[], options?: { fieldManager?: string }): Promise<BatchResult>;
  /** A JSON merge patch (RFC 7386) of one object; throws KubeApiError on failure. */
  patch(ref: ObjectRef, patch: Record<string, unknown>, options?: { fieldManager?: string; dryRun?: boolean }): Promise<KubeObject>;
  /** One object, or undefined when it does not exist. */
  get<T extends KubeObject = KubeObject>(ref: ObjectRef): Promise<T | undefined>;
  /** The live version of each given object that exists; missing ones are absent from the result. */
  getObjects(refs: ObjectRef[]): Promise<KubeObject[]>;
  /** Deletes each object (background propagation); ones already gone are fine. Does not wait for finalizers. */
  delete(refs: ObjectRef[]): Promise<BatchResult>;
  /** Every object of one kind, in one namespace or (namespace undefined) all of them. */
  list<T extends KubeObject = KubeObject>(apiVersion: string, kind: string, namespace: string | undefined, options?: ListOptions): Promise<ListResult<T>>;
  /** Streams changes of one kind after `resourceVersion`, with bookmarks. */
  watch(apiVersion: string, kind: string, options: WatchOptions, onEvent: (event: WatchEvent) => void): WatchStream;
  /** The last lines a container wrote; empty when there are none. */
  logs(namespace: string, pod: string, container: string, options?: LogOptions): Promise<string>;
  /**
   * One request through the API server's service proxy: the answer the pods gave, or the
   * proxy's own error. An answer is a measurement and is never retried; only a request that
   * got no answer at all may be sent again, within its timeout.
   */
  proxyRequest(request: ProxyRequest): Promise<ProxyResponse>;
  /** Whether the server serves this kind (false for a custom resource whose CRD is not established yet). */
  serves(apiVersion: string, kind: string): Promise<boolean>;
  /** Whether the kind is cluster-scoped, per the server's discovery; undefined when the server does not know it. */
  clusterScoped(apiVersion: string, kind: string): Promise<boolean | undefined>;
  /** Stops open watches and sockets so the process can exit. */
  close(): void;
}

/** A reference to an object, without its content. */
export function refOf(o: ObjectRef): ObjectRef {
  const metadata: ObjectRef['metadata'] = { name: o.metadata.name };
  if (o.metadata.namespace) metadata.namespace = o.metadata.namespace;
  return { apiVersion: o.apiVersion, kind: o.kind, metadata };
}

/** `Deployment.apps "web"`: how the server names an object in its messages. */
export function serverName(o: ObjectRef): string {
  const group = o.apiVersion.includes('/') ? o.apiVersion.split('/')[0] : '';
  return `${o.kind}${group ? `.${group}` : ''} "${o.metadata.name}"`;
}

export function describeProblems(problems: ObjectProblem[]): string {
  return problems.map((p) => p.message).join('; ') || 'no detail from the server';
}

/** An API call that failed, with the server's Status when there was one. */
export class KubeApiError extends Error {
  constructor(
    message: string,
    readonly code?: number,
    readonly reason?: string,
  ) {
    super(message);
    this.name = 'KubeApiError';
  }
}
