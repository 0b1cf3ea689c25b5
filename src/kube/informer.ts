// A live, in-memory view of a few kinds in a few namespaces: one list, then one watch per
// kind from the list's resourceVersion. A watch that ends is resumed from the last
// resourceVersion seen (bookmarks keep it fresh); one the server expired (410 Gone) is
// listed again, so no state change is ever missed, across dropped connections and API
// server restarts alike.
//
// Why not the client library's informer: its ListWatch stops on the first error and leaves
// the restart to the caller, and it sits behind the library rather than behind KubeClient,
// so unit tests could not drive it with the in-memory cluster. This one takes any KubeClient.
import { KubeClient, KubeObject, WatchEnd, WatchStream } from './client.js';

export interface WatchSpec {
  apiVersion: string;
  kind: string;
  namespace: string;
  labelSelector?: string;
  fieldSelector?: string;
}

export interface InformerOptions {
  /** Told once per interruption, e.g. "watch of Pod in prod dropped; resuming". */
  onNotice?: (message: string) => void;
  /** Backoff between attempts while the API server is unreachable. */
  retryMs?: number;
}

const key = (o: KubeObject): string => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
const specName = (s: WatchSpec): string => `${s.kind} in ${s.namespace}`;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class Informer {
  private readonly stores: Map<string, KubeObject>[];
  private readonly streams = new Set<WatchStream>();
  private stopped = false;
  private waiters: (() => void)[] = [];
  private version = 0;
  /** How many times a watch was resumed or re-listed: reported by tests and benchmarks. */
  resumes = 0;
  relists = 0;

  constructor(private readonly client: KubeClient, readonly specs: WatchSpec[], private readonly options: InformerOptions = {}) {
    this.stores = specs.map(() => new Map());
  }

  /** Lists every kind (in parallel) and starts the watches; resolves once the view is complete. */
  async start(): Promise<void> {
    const versions = await Promise.all(this.specs.map((spec, i) => this.list(i, spec)));
    this.specs.forEach((spec, i) => void this.run(i, spec, versions[i]!));
  }

  /** Every object currently known, of every kind. */
  items(): KubeObject[] {
    return this.stores.flatMap((s) => [...s.values()]);
  }

  /** A counter that moves on every change; callers compare it to skip work when nothing moved. */
  get changes(): number {
    return this.version;
  }

  /** Resolves at the next change (or at stop). */
  changed(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  stop(): void {
    this.stopped = true;
    for (const s of this.streams) s.stop();
    this.notify();
  }

  private notify(): void {
    this.version++;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  private async list(i: number, spec: WatchSpec): Promise<string> {
    const result = await this.client.list(spec.apiVersion, spec.kind, spec.namespace, { labelSelector: spec.labelSelector, fieldSelector: spec.fieldSelector });
    const store = new Map<string, KubeObject>();
    for (const o of result.items) store.set(key(o), o);
    this.stores[i] = store;
    this.notify();
    return result.resourceVersion;
  }

  /** Lists again until it works (the API server may be restarting); returns the new resourceVersion. */
  private async relist(i: number, spec: WatchSpec): Promise<string | undefined> {
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        this.relists++;
        return await this.list(i, spec);
      } catch {
        await sleep(Math.min(2000, (this.options.retryMs ?? 250) * 2 ** attempt));
      }
    }
    return undefined;
  }

  private async run(i: number, spec: WatchSpec, resourceVersion: string): Promise<void> {
    let rv = resourceVersion;
    let failures = 0;
    while (!this.stopped) {
      const stream = this.client.watch(spec.apiVersion, spec.kind, { namespace: spec.namespace, resourceVersion: rv, labelSelector: spec.labelSelector, fieldSelector: spec.fieldSelector }, (event) => {
        const version = event.object.metadata.resourceVersion as string | undefined;
        if (version) rv = version;
        if (event.type === 'BOOKMARK') return;
        failures = 0;
        if (event.type === 'DELETED') this.stores[i]!.delete(key(event.object));
        else this.stores[i]!.set(key(event.object), event.object);
        this.notify();
      });
      this.streams.add(stream);
      const opened = Date.now();
      const end: WatchEnd = await stream.done;
      this.streams.delete(stream);
      if (this.stopped) return;
      if (end.reason === 'gone') {
        this.options.onNotice?.(`watch of ${specName(spec)}: resourceVersion ${rv} expired; listing again`);
        const fresh = await this.relist(i, spec);
        if (fresh === undefined) return;
        rv = fresh;
        continue;
      }
      if (end.reason === 'recycled') continue;
      this.resumes++;
      if (failures === 0) this.options.onNotice?.(`watch of ${specName(spec)} ${end.reason === 'error' ? `dropped (${end.error.message})` : 'ended by the server'}; resuming from resourceVersion ${rv}`);
      // A stream that ends at once (the server going away, a proxy cutting idle streams) must not spin.
      if (end.reason === 'error' || Date.now() - opened < 1000) {
        await sleep(Math.min(2000, (this.options.retryMs ?? 250) * 2 ** failures));
        failures++;
      }
    }
  }
}
