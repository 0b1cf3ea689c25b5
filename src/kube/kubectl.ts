// Kubectl owns every call to the kubectl binary. Nothing else in Gantry runs kubectl,
// so the number of calls per operation is visible and testable here.
import { GantryError } from '../errors.js';
import { CommandRunner, CommandResult, ExecRunner } from '../shared/process.js';

export interface KubectlOptions {
  /** Path to the kubectl binary. */
  binary?: string;
  kubeconfig?: string;
  context?: string;
  runner?: CommandRunner;
}

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

export interface KubeList<T = KubeObject> {
  items: T[];
}

/** Gantry's field manager: the owner of every field Gantry sets with server-side apply. */
export const FIELD_MANAGER = 'gantry';

/** A problem kubectl reported for one object of a batch (apply, dry-run, replace, …). */
export interface ObjectProblem {
  /** kind/name as the server spelled it, e.g. `Deployment.apps "web"`, or undefined when kubectl did not say. */
  object?: string;
  message: string;
}

/** What a batch command did: the objects it printed and the per-object problems on stderr. */
export interface BatchResult {
  ok: boolean;
  objects: KubeObject[];
  problems: ObjectProblem[];
}

/** Just enough of an object to name it in a `-f -` batch (get, delete). */
export function objectRef(o: KubeObject): KubeObject {
  const metadata: KubeObject['metadata'] = { name: o.metadata.name };
  if (o.metadata.namespace) metadata.namespace = o.metadata.namespace;
  return { apiVersion: o.apiVersion, kind: o.kind, metadata };
}

/** The objects as one `v1/List` document for kubectl's stdin. */
export function asList(objects: KubeObject[]): string {
  return JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects });
}

export class KubectlError extends GantryError {
  readonly result: CommandResult;
  constructor(message: string, result: CommandResult, hint?: string) {
    super(message, { hint, title: 'kubectl' });
    this.result = result;
  }
}

export class Kubectl {
  readonly binary: string;
  private readonly kubeconfig?: string;
  private readonly context?: string;
  private readonly runner: CommandRunner;
  /** How many times kubectl has been invoked by this instance. */
  calls = 0;

  constructor(options: KubectlOptions = {}) {
    this.binary = options.binary ?? 'kubectl';
    this.kubeconfig = options.kubeconfig;
    this.context = options.context;
    this.runner = options.runner ?? new ExecRunner();
  }

  private globalArgs(): string[] {
    const args: string[] = [];
    if (this.kubeconfig) args.push('--kubeconfig', this.kubeconfig);
    if (this.context) args.push('--context', this.context);
    return args;
  }

  /** Runs kubectl and returns the raw result, whatever the exit code. */
  async exec(args: string[], input?: string): Promise<CommandResult> {
    this.calls++;
    return this.runner.run(this.binary, [...this.globalArgs(), ...args], { input });
  }

  /** Runs kubectl and throws a KubectlError naming the command when it fails. */
  async run(args: string[], input?: string): Promise<string> {
    const result = await this.exec(args, input);
    if (result.exitCode !== 0) {
      const what = args.filter((a) => !a.startsWith('-')).slice(0, 3).join(' ');
      const detail = result.stderr.trim() || result.stdout.trim() || `exit code ${result.exitCode}`;
      throw new KubectlError(`kubectl ${what} failed: ${detail}`, result);
    }
    return result.stdout;
  }

  async json<T>(args: string[], input?: string): Promise<T> {
    const out = await this.run([...args, '-o', 'json'], input);
    try {
      return JSON.parse(out) as T;
    } catch (err) {
      throw new GantryError(`kubectl ${args.slice(0, 2).join(' ')} returned output that is not JSON`, { cause: err });
    }
  }

  /** Gets one object, or undefined when it does not exist. */
  async get<T = KubeObject>(kind: string, name: string, namespace?: string): Promise<T | undefined> {
    const args = ['get', kind, name, ...(namespace ? ['-n', namespace] : []), '-o', 'json'];
    const result = await this.exec(args);
    if (result.exitCode !== 0) {
      if (/NotFound|not found/.test(result.stderr)) return undefined;
      throw new KubectlError(`kubectl get ${kind}/${name} failed: ${result.stderr.trim()}`, result);
    }
    return JSON.parse(result.stdout) as T;
  }

  async list<T = KubeObject>(kind: string, namespace: string | undefined, selector?: string): Promise<T[]> {
    const args = ['get', kind, ...(namespace ? ['-n', namespace] : ['--all-namespaces'])];
    if (selector) args.push('-l', selector);
    const list = await this.json<KubeList<T>>(args);
    return list.items;
  }

  // Batch operations: each takes the whole set on stdin, so one call serves any number
  // of objects. kubectl keeps going past a failing object and reports it on stderr;
  // these methods return every problem rather than the first.

  /** Server-side apply of the whole set under Gantry's field manager; `dryRun` asks the server to validate only. */
  async apply(objects: KubeObject[], options: { dryRun?: boolean; fieldManager?: string } = {}): Promise<BatchResult> {
    if (objects.length === 0) return { ok: true, objects: [], problems: [] };
    const args = ['apply', '--server-side', `--field-manager=${options.fieldManager ?? FIELD_MANAGER}`, '--force-conflicts'];
    if (options.dryRun) args.push('--dry-run=server');
    return this.batch([...args, '-f', '-', '-o', 'json'], objects);
  }

  /** Replaces each object with exactly the given content (HTTP PUT), so fields missing from it are dropped. */
  async replace(objects: KubeObject[], fieldManager = FIELD_MANAGER): Promise<BatchResult> {
    if (objects.length === 0) return { ok: true, objects: [], problems: [] };
    return this.batch(['replace', `--field-manager=${fieldManager}`, '-f', '-', '-o', 'json'], objects);
  }

  async create(objects: KubeObject[], fieldManager = FIELD_MANAGER): Promise<BatchResult> {
    if (objects.length === 0) return { ok: true, objects: [], problems: [] };
    return this.batch(['create', `--field-manager=${fieldManager}`, '-f', '-', '-o', 'json'], objects);
  }

  /** The live version of every given object that exists; missing ones are simply absent from the result. */
  async getObjects(objects: KubeObject[]): Promise<KubeObject[]> {
    if (objects.length === 0) return [];
    const result = await this.batch(['get', '--ignore-not-found', '-f', '-', '-o', 'json'], objects.map(objectRef));
    if (!result.ok) throw new KubectlError(`kubectl get failed: ${describeProblems(result.problems)}`, { exitCode: 1, stdout: '', stderr: describeProblems(result.problems) });
    return result.objects;
  }

  /** Deletes the given objects; ones already gone are fine. Does not wait for finalizers. */
  async deleteObjects(objects: KubeObject[]): Promise<BatchResult> {
    if (objects.length === 0) return { ok: true, objects: [], problems: [] };
    const result = await this.exec(['delete', '--ignore-not-found', '--wait=false', '-f', '-'], asList(objects.map(objectRef)));
    return { ok: result.exitCode === 0, objects: [], problems: parseProblems(result.stderr) };
  }

  /** Every object of the given kinds in one namespace, in one call: the wait loop's tick. */
  async listKinds(kinds: string[], namespace: string): Promise<KubeObject[]> {
    if (kinds.length === 0) return [];
    const list = await this.json<KubeList>(['get', kinds.join(','), '-n', namespace]);
    return list.items;
  }

  /** Events about one object, oldest first. */
  async events(namespace: string, kind: string, name: string): Promise<KubeObject[]> {
    const list = await this.json<KubeList>(['get', 'events', '-n', namespace, '--field-selector', `involvedObject.kind=${kind},involvedObject.name=${name}`]);
    return list.items;
  }

  /** The last lines a container wrote; `previous` reads the crashed instance. Empty when there are none. */
  async logs(namespace: string, pod: string, container: string, options: { tail?: number; previous?: boolean } = {}): Promise<string> {
    const args = ['logs', '-n', namespace, pod, '-c', container, `--tail=${options.tail ?? 20}`];
    if (options.previous) args.push('--previous');
    const result = await this.exec(args);
    return result.exitCode === 0 ? result.stdout : '';
  }

  private async batch(args: string[], objects: KubeObject[]): Promise<BatchResult> {
    const result = await this.exec(args, asList(objects));
    return { ok: result.exitCode === 0, objects: parseObjects(result.stdout), problems: parseProblems(result.stderr) };
  }
}

/** kubectl prints one object for a one-item batch and a List otherwise; both become an array. */
export function parseObjects(stdout: string): KubeObject[] {
  const text = stdout.trim();
  if (text === '') return [];
  // Several JSON documents can be printed back to back (one per input item in some kubectl versions).
  const out: KubeObject[] = [];
  for (const doc of splitJsonDocuments(text)) {
    const parsed = JSON.parse(doc) as KubeObject & { items?: KubeObject[] };
    if (Array.isArray(parsed.items) && /List$/.test(parsed.kind)) out.push(...parsed.items);
    else out.push(parsed);
  }
  return out;
}

function splitJsonDocuments(text: string): string[] {
  const docs: string[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{') {
      if (depth === 0) start = i;
      depth++;
    } else if (c === '}') {
      depth--;
      if (depth === 0 && start >= 0) docs.push(text.slice(start, i + 1));
    }
  }
  return docs;
}

/**
 * Turns kubectl's stderr into one problem per object. kubectl writes lines such as
 *   Error from server (Invalid): error when applying patch: …  Deployment.apps "web" is invalid: spec…
 *   Error from server (NotFound): namespaces "nope" not found
 *   The Service "web" is invalid:
 *   * spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive
 *   error: resource mapping not found for name: "x" namespace: "" from "STDIN": no matches for kind "Foo"…
 */
export function parseProblems(stderr: string): ObjectProblem[] {
  const messages: string[] = [];
  for (const raw of stderr.split('\n')) {
    const line = raw.trim();
    // `The Service "web" is invalid:` is how kubectl words some validation errors, with one `* field` line per cause.
    if (/^(Error from server|error:|The [A-Z][\w.]* "[^"]+" is invalid)/i.test(line)) messages.push(line.replace(/^Error from server \(\w+\): /, '').replace(/^error: /, '').replace(/^The /, ''));
    // Continuation lines (multi-line messages) belong to the previous problem.
    else if (line !== '' && messages.length > 0 && !/^Warning:/.test(line)) messages[messages.length - 1] += ` ${line}`;
  }
  return messages.map((message) => {
    const named = /([A-Z][A-Za-z0-9]*(?:\.[a-z0-9.-]+)?) "([^"]+)" (is invalid|is forbidden|already exists|not found)/.exec(message);
    const mapping = /resource mapping not found for name: "([^"]+)".*no matches for kind "([^"]+)"/.exec(message);
    const unknownKind = /no matches for kind "([^"]+)" in version "([^"]+)"/.exec(message);
    const object = named ? `${named[1]} "${named[2]}"` : mapping ? `${mapping[2]} "${mapping[1]}"` : unknownKind ? `${unknownKind[1]} (${unknownKind[2]})` : undefined;
    return { object, message };
  });
}

export function describeProblems(problems: ObjectProblem[]): string {
  return problems.map((p) => p.message).join('; ') || 'no detail from kubectl';
}
