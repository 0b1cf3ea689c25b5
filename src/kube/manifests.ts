// Manifests: finds them (files, directories, globs, kustomize dirs, Helm charts) inside
// the workspace, parses them with file:line, and adds namespace and traceability metadata.
import { promises as fs, type Dirent } from 'node:fs';
import path from 'node:path';
import { GantryError, GantryErrors, type ErrorLocation } from '../errors.js';
import { ExecRunner, findExecutable, type BinaryLocator, type CommandRunner } from '../shared/process.js';
import type { KubeObject } from './client.js';
import { KubectlError, type Kubectl } from './kubectl.js';
import { podTemplateOf } from './images.js';
import { isMapping, parseManifests, type Locate, type Manifest, type ParseResult } from './yaml-documents.js';

// Callers load, substitute and stamp manifests through this module.
export { substituteImages, type ImageChange } from './images.js';
export type { Manifest } from './yaml-documents.js';

export interface HelmOptions {
  /** Path to helm, or a name looked up on PATH, or how to find (or install) it when a chart needs it. Default: `helm` on PATH. */
  binary?: string | BinaryLocator;
  /** Runs helm; tests pass a fake. Default: ExecRunner. */
  runner?: CommandRunner;
  releaseName: string;
  /** `--namespace` for helm template; defaults to LoadOptions.namespace. */
  namespace?: string;
  /** Workspace-relative values files, passed as `--values`. */
  valuesFiles?: string[];
  /** Passed as `--set key=value`. */
  set?: Record<string, string>;
}

export interface LoadOptions {
  /** Absolute path; every path is resolved inside it. */
  workspace: string;
  /**
   * Files (any extension), directories (recursive, *.yaml|*.yml|*.json, skipping dot
   * directories and node_modules), globs (`*`, `**`, `?`; they select *.yaml|*.yml|*.json
   * files and do not enter kustomize or chart directories), kustomize directories and Helm charts.
   */
  paths: string[];
  kubectl: Kubectl;
  helm?: HelmOptions;
  /** Default namespace for namespaced objects that name none. */
  namespace?: string;
}

const MANIFEST_EXTENSIONS = /\.(ya?ml|json)$/i;
const KUSTOMIZATION_FILES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];
const SKIPPED_DIRS = new Set(['node_modules']);

type Source =
  | { type: 'file'; abs: string; rel: string }
  | { type: 'kustomize'; abs: string; rel: string; kustomization: string; input: string }
  | { type: 'helm'; abs: string; rel: string; input: string };

/**
 * Loads every object named by `paths`. All problems in all files (missing paths,
 * YAML syntax, objects without apiVersion/kind/metadata.name, duplicates, failed
 * kustomize/helm renders) are collected and thrown together as one GantryErrors,
 * whose `errors` each carry a file:line location where there is one.
 */
export async function loadManifests(opts: LoadOptions): Promise<Manifest[]> {
  if (opts.paths.length === 0) throw new GantryErrors([new GantryError('no manifest paths were given', { title: 'Invalid input', hint: 'Name at least one file, directory, glob, kustomize directory or Helm chart.' })]);
  const ws = await openWorkspace(opts.workspace);
  const errors: GantryError[] = [];

  const sources: Source[] = [];
  const seenFiles = new Set<string>();
  const resolved = await Promise.all(opts.paths.map((p) => resolveInput(ws, p).then((s) => ({ s }), (e: unknown) => ({ e }))));
  for (const r of resolved) {
    if ('e' in r) {
      errors.push(...asErrors(r.e));
      continue;
    }
    for (const s of r.s) {
      // A file reached through two paths (a directory and a glob) is loaded once, not reported as a duplicate of itself.
      if (s.type === 'file' && seenFiles.has(s.abs)) continue;
      seenFiles.add(s.abs);
      sources.push(s);
    }
  }

  const results = await Promise.all(sources.map((s) => loadSource(ws, s, opts).catch((e: unknown): ParseResult => ({ manifests: [], errors: asErrors(e) }))));
  const manifests: Manifest[] = [];
  for (const r of results) {
    manifests.push(...r.manifests);
    errors.push(...r.errors);
  }

  if (opts.namespace) setDefaultNamespace(manifests, opts.namespace);
  errors.push(...findDuplicates(manifests));
  if (errors.length === 0 && manifests.length === 0) {
    errors.push(new GantryError(`the manifest paths (${opts.paths.join(', ')}) contain no Kubernetes objects`, { title: 'Invalid input', hint: 'Check that the paths point at your manifests.' }));
  }
  if (errors.length > 0) throw new GantryErrors(errors);
  return manifests;
}

function asErrors(e: unknown): GantryError[] {
  if (e instanceof GantryErrors) return e.errors;
  if (e instanceof GantryError) return [e];
  throw e; // a bug, not a user problem: let it surface with its stack
}

// ---------------------------------------------------------------------------
// Paths: everything is resolved inside the workspace, also through symlinks.

interface Workspace {
  root: string;
  real: string;
}

async function openWorkspace(root: string): Promise<Workspace> {
  if (!path.isAbsolute(root)) throw new GantryError(`the workspace "${root}" is not an absolute path`, { title: 'Gantry' });
  try {
    return { root: path.resolve(root), real: await fs.realpath(root) };
  } catch {
    throw new GantryError(`the workspace "${root}" does not exist`, { title: 'Gantry', hint: 'Check out the repository (actions/checkout) before deploying.' });
  }
}

function isInside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

/** Workspace-relative, `/`-separated; how users see paths in messages and annotations. */
function relative(ws: Workspace, realPath: string): string {
  return path.relative(ws.real, realPath).split(path.sep).join('/') || '.';
}

function pathError(input: string, message: string, hint?: string, setting = 'paths'): GantryError {
  return new GantryError(`${setting}: "${input}" ${message}`, { title: 'Invalid input', hint });
}

/** Resolves a path the user gave to its real location, refusing anything outside the workspace. */
async function realInside(ws: Workspace, input: string, p: string, setting = 'paths'): Promise<string> {
  const abs = path.resolve(ws.root, p);
  if (!isInside(ws.root, abs) && !isInside(ws.real, abs)) throw pathError(input, `is outside the workspace (${ws.root})`, 'Paths must be inside the repository checkout.', setting);
  let real: string;
  try {
    real = await fs.realpath(abs);
  } catch {
    throw pathError(input, 'does not exist', `Paths are relative to the workspace ${ws.root}.`, setting);
  }
  if (!isInside(ws.real, real)) throw pathError(input, `leads through a symlink to ${real}, outside the workspace (${ws.root})`, 'Paths must stay inside the repository checkout.', setting);
  return real;
}

async function resolveInput(ws: Workspace, input: string): Promise<Source[]> {
  if (/[*?]/.test(input)) return resolveGlob(ws, input);
  const real = await realInside(ws, input, input);
  const stat = await fs.stat(real);
  if (stat.isFile()) return [{ type: 'file', abs: real, rel: relative(ws, real) }];
  if (!stat.isDirectory()) throw pathError(input, 'is neither a file nor a directory');
  const entries = await fs.readdir(real, { withFileTypes: true });
  const special = classify(ws, real, entries, input);
  if (special) return [special];
  return walkDirectory(ws, input, real);
}

/** A kustomize directory or a Helm chart, recognised by the file that defines it. */
function classify(ws: Workspace, dir: string, entries: Dirent[], input: string): Source | undefined {
  const names = new Set(entries.map((e) => e.name));
  const kustomization = KUSTOMIZATION_FILES.find((n) => names.has(n));
  if (kustomization) return { type: 'kustomize', abs: dir, rel: relative(ws, dir), kustomization, input };
  if (names.has('Chart.yaml')) return { type: 'helm', abs: dir, rel: relative(ws, dir), input };
  return undefined;
}

/**
 * Lists manifest files under `dir`, sorted, so the order of objects is stable across runs.
 * `onSpecial` decides what happens with a nested kustomize dir or chart.
 */
async function walk(ws: Workspace, input: string, dir: string, visit: (file: string) => void, onSpecial: (s: Source) => void, visited = new Set<string>()): Promise<void> {
  if (visited.has(dir)) return; // a symlink loop
  visited.add(dir);
  const entries = (await fs.readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    if (entry.name.startsWith('.') || SKIPPED_DIRS.has(entry.name)) continue;
    let full = path.join(dir, entry.name);
    let isDir = entry.isDirectory();
    let isFile = entry.isFile();
    if (entry.isSymbolicLink()) {
      const stat = await fs.stat(full).catch(() => undefined); // a dangling link is not a manifest
      isDir = stat?.isDirectory() ?? false;
      isFile = stat?.isFile() ?? false;
      // Only links that would be read must stay inside the workspace.
      if (isDir || (isFile && MANIFEST_EXTENSIONS.test(entry.name))) full = await realInside(ws, input, full);
    }
    if (isFile && MANIFEST_EXTENSIONS.test(entry.name)) visit(full);
    if (!isDir) continue;
    const special = classify(ws, full, await fs.readdir(full, { withFileTypes: true }), input);
    if (special) onSpecial(special);
    else await walk(ws, input, full, visit, onSpecial, visited);
  }
}

async function walkDirectory(ws: Workspace, input: string, dir: string): Promise<Source[]> {
  const files: Source[] = [];
  const errors: GantryError[] = [];
  await walk(
    ws,
    input,
    dir,
    (f) => files.push({ type: 'file', abs: f, rel: relative(ws, f) }),
    // Loading a nested overlay or chart as plain files would deploy the wrong thing (a base
    // and its overlay, or unrendered templates), and guessing which one is meant is worse.
    (s) => errors.push(pathError(input, `contains the ${s.type === 'helm' ? 'Helm chart' : 'kustomize directory'} ${s.rel}`, `List ${s.rel} in paths on its own, and the plain manifest directories next to it.`)),
  );
  if (errors.length > 0) throw new GantryErrors(errors);
  return files;
}

async function resolveGlob(ws: Workspace, input: string): Promise<Source[]> {
  const segments = input.split(/[\\/]/);
  const first = segments.findIndex((s) => /[*?]/.test(s));
  const pattern = segments.slice(first);
  if (pattern.includes('..')) throw pathError(input, 'uses ".." after a wildcard', 'Put ".." (if any) before the first wildcard.');
  const base = segments.slice(0, first).join('/') || (path.isAbsolute(input) ? '/' : '.');
  const baseReal = await realInside(ws, input, base);
  const regex = globToRegExp(pattern.join('/'));
  const files: Source[] = [];
  await walk(
    ws,
    input,
    baseReal,
    (f) => {
      if (regex.test(path.relative(baseReal, f).split(path.sep).join('/'))) files.push({ type: 'file', abs: f, rel: relative(ws, f) });
    },
    () => {}, // globs select plain manifest files; charts and kustomize dirs are named directly
  );
  if (files.length === 0) throw pathError(input, 'matches no .yaml, .yml or .json files', `Patterns are relative to the workspace ${ws.root}; * and ? stay within one directory, ** crosses directories.`);
  return files;
}

/** `*` and `?` stay inside one path segment and skip dotfiles; `**` spans segments. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  const segments = glob.split('/');
  segments.forEach((seg, i) => {
    const last = i === segments.length - 1;
    if (seg === '**') {
      re += last ? '(?:(?!\\.)[^/]*(?:/(?!\\.)[^/]*)*)?' : '(?:(?!\\.)[^/]*/)*';
      return;
    }
    if (/^[*?]/.test(seg)) re += '(?!\\.)';
    for (const ch of seg) re += ch === '*' ? '[^/]*' : ch === '?' ? '[^/]' : ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    if (!last) re += '/';
  });
  return new RegExp(`^${re}$`);
}

// ---------------------------------------------------------------------------
// Sources: plain files are parsed as they are; kustomize and helm render first.

async function loadSource(ws: Workspace, s: Source, opts: LoadOptions): Promise<ParseResult> {
  switch (s.type) {
    case 'file':
      return parseManifests(await fs.readFile(s.abs, 'utf8'), s.rel);
    case 'kustomize':
      return renderKustomize(s, opts.kubectl);
    case 'helm':
      return renderHelm(ws, s, opts);
  }
}

async function renderKustomize(s: Extract<Source, { type: 'kustomize' }>, kubectl: Kubectl): Promise<ParseResult> {
  const file = s.rel === '.' ? s.kustomization : `${s.rel}/${s.kustomization}`;
  let output: string;
  try {
    output = await kubectl.run(['kustomize', s.abs]);
  } catch (err) {
    if (!(err instanceof KubectlError)) throw err;
    const detail = (err.result.stderr.trim() || err.result.stdout.trim() || `exit code ${err.result.exitCode}`).split(s.abs).join(s.rel);
    throw new GantryError(`kustomize could not build ${s.rel}: ${detail}`, { location: { file }, title: 'kustomize', hint: `Run \`kubectl kustomize ${s.rel}\` locally to see the whole error.` });
  }
  return parseManifests(output, file);
}

async function renderHelm(ws: Workspace, s: Extract<Source, { type: 'helm' }>, opts: LoadOptions): Promise<ParseResult> {
  const chartFile = `${s.rel === '.' ? '' : `${s.rel}/`}Chart.yaml`;
  const helm = opts.helm;
  if (!helm?.releaseName) {
    throw new GantryError(`paths: "${s.input}" is a Helm chart, but no Helm release name is configured`, { location: { file: chartFile }, title: 'Helm', hint: 'Set the Helm release name; the chart uses it to name what it renders.' });
  }
  const wanted = typeof helm.binary === 'function' ? await helm.binary() : helm.binary ?? 'helm';
  const binary = await findExecutable(wanted);
  if (!binary) {
    throw new GantryError(`paths: "${s.input}" is a Helm chart, and rendering it requires helm, which was not found (${wanted.includes('/') ? `no executable at "${wanted}"` : 'not on PATH'})`, {
      location: { file: chartFile },
      title: 'Helm',
      hint: 'Install helm on the runner (for example with azure/setup-helm), or give the path to the helm binary.',
    });
  }
  const args = ['template', helm.releaseName, s.abs, '--include-crds', '--skip-tests'];
  const namespace = helm.namespace ?? opts.namespace;
  if (namespace) args.push('--namespace', namespace);
  for (const values of helm.valuesFiles ?? []) args.push('--values', await realInside(ws, values, values, 'helm values file'));
  for (const [k, v] of Object.entries(helm.set ?? {})) args.push('--set', `${k}=${v}`);

  const runner = helm.runner ?? new ExecRunner();
  const result = await runner.run(binary, args, { cwd: ws.real });
  if (result.exitCode !== 0) {
    const detail = (result.stderr.trim() || result.stdout.trim() || `exit code ${result.exitCode}`).split(s.abs).join(s.rel);
    throw new GantryError(`helm template failed for ${s.rel}: ${detail}`, { location: helmErrorLocation(detail, s.rel) ?? { file: chartFile }, title: 'Helm', hint: `Run \`helm template ${helm.releaseName} ${s.rel}\` locally to see the whole error.` });
  }
  return parseManifests(result.stdout, chartFile, helmLocator(result.stdout, s.rel, chartFile));
}

/** Maps `chart/templates/x.yaml` as helm prints it (chart *name* first) to the workspace path. */
function chartPath(chartRel: string, helmPath: string): string {
  const inChart = helmPath.split('/').slice(1).join('/');
  return chartRel === '.' ? inChart : `${chartRel}/${inChart}`;
}

/** helm template writes `# Source: chart/templates/x.yaml` before each document; point there. */
function helmLocator(output: string, chartRel: string, chartFile: string): Locate {
  const sources: { line: number; file: string }[] = [];
  output.split('\n').forEach((text, i) => {
    const m = /^# Source: (\S+)/.exec(text);
    if (m) sources.push({ line: i + 1, file: chartPath(chartRel, m[1]!) });
  });
  return (line, column) => {
    let found: { line: number; file: string } | undefined;
    for (const s of sources) if (s.line < line) found = s;
    return found ? { file: found.file, line: line - found.line, column } : { file: chartFile, line, column };
  };
}

function helmErrorLocation(detail: string, chartRel: string): ErrorLocation | undefined {
  const template = /([^\s:"(]+\/templates\/[^\s:"()]+):(\d+)(?::(\d+))?/.exec(detail);
  if (template) return { file: chartPath(chartRel, template[1]!), line: Number(template[2]), column: template[3] ? Number(template[3]) : undefined };
  const yamlError = /YAML parse error on ([^\s:]+):.*?line (\d+)/.exec(detail);
  if (yamlError) return { file: chartPath(chartRel, yamlError[1]!), line: Number(yamlError[2]) };
  return undefined;
}

// ---------------------------------------------------------------------------
// Identity: namespaces, keys and duplicates.

/** Built-in kinds that live outside namespaces; a namespace on them is an error to the API server. */
const CLUSTER_SCOPED_KINDS = new Set([
  'APIService',
  'CertificateSigningRequest',
  'ClusterRole',
  'ClusterRoleBinding',
  'ClusterTrustBundle',
  'ComponentStatus',
  'CSIDriver',
  'CSINode',
  'CustomResourceDefinition',
  'DeviceClass',
  'FlowSchema',
  'GatewayClass',
  'IngressClass',
  'IPAddress',
  'MutatingAdmissionPolicy',
  'MutatingAdmissionPolicyBinding',
  'MutatingWebhookConfiguration',
  'Namespace',
  'Node',
  'PersistentVolume',
  'PodSecurityPolicy',
  'PriorityClass',
  'PriorityLevelConfiguration',
  'ResourceSlice',
  'RuntimeClass',
  'ServiceCIDR',
  'StorageClass',
  'StorageVersion',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding',
  'ValidatingWebhookConfiguration',
  'VolumeAttachment',
]);

function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

/**
 * Whether a kind is cluster-scoped: a built-in one, or a custom kind whose
 * CustomResourceDefinition (passed in `crds`) says `scope: Cluster`.
 */
export function isClusterScoped(o: KubeObject, crds: KubeObject[] = []): boolean {
  if (CLUSTER_SCOPED_KINDS.has(o.kind)) return true;
  const group = groupOf(o.apiVersion);
  return crds.some((crd) => {
    const spec = crd.spec as { group?: unknown; scope?: unknown; names?: { kind?: unknown } } | undefined;
    return crd.kind === 'CustomResourceDefinition' && spec?.scope === 'Cluster' && spec.group === group && spec.names?.kind === o.kind;
  });
}

function setDefaultNamespace(manifests: Manifest[], namespace: string): void {
  const crds = manifests.map((m) => m.object).filter((o) => o.kind === 'CustomResourceDefinition');
  for (const { object } of manifests) {
    if (!object.metadata.namespace && !isClusterScoped(object, crds)) object.metadata.namespace = namespace;
  }
}

/**
 * A stable identity for an object: `Kind[.group]/[namespace/]name`, for example
 * `Deployment.apps/prod/web`, `Service/prod/web` or `ClusterRole.rbac.authorization.k8s.io/reader`.
 * The API version is left out on purpose: `apps/v1` and `apps/v1beta2` Deployments
 * with the same name are the same object. An object without a namespace gets no
 * namespace segment (names cannot contain `/`, so the forms cannot be confused).
 */
export function objectKey(o: KubeObject): string {
  const group = groupOf(o.apiVersion);
  const ns = o.metadata.namespace;
  return `${o.kind}${group ? `.${group}` : ''}/${ns ? `${ns}/` : ''}${o.metadata.name}`;
}

/** How messages name an object: `Deployment "web" in namespace "prod"`. */
export function describeObject(o: KubeObject): string {
  return `${o.kind} "${o.metadata.name}"${o.metadata.namespace ? ` in namespace "${o.metadata.namespace}"` : ''}`;
}

function findDuplicates(manifests: Manifest[]): GantryError[] {
  const first = new Map<string, Manifest>();
  const errors: GantryError[] = [];
  for (const m of manifests) {
    const key = objectKey(m.object);
    const earlier = first.get(key);
    if (!earlier) {
      first.set(key, m);
      continue;
    }
    errors.push(
      new GantryError(`${describeObject(m.object)} is defined twice: at ${earlier.file}:${earlier.line} and at ${m.file}:${m.line}`, {
        location: { file: m.file, line: m.line },
        title: 'Duplicate object',
        hint: 'Remove one of them, or give them different names; otherwise one would silently overwrite the other.',
      }),
    );
  }
  return errors;
}

// ---------------------------------------------------------------------------
// Metadata for traceability.

export interface TraceMetadata {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Checks a label or annotation key: `[prefix/]name`, prefix a DNS subdomain ≤ 253, name ≤ 63. */
export function isQualifiedName(key: string): boolean {
  const slash = key.lastIndexOf('/');
  const prefix = slash < 0 ? undefined : key.slice(0, slash);
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (prefix !== undefined && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) return false;
  return name.length <= 63 && LABEL_NAME.test(name);
}

/** Turns any string into a valid label value: allowed characters only, ≤ 63, alphanumeric at both ends. */
export function sanitizeLabelValue(value: string): string {
  return value
    .replace(/[^A-Za-z0-9._-]/g, '-')
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+/, '')
    .replace(/[^A-Za-z0-9]+$/, '');
}

/**
 * Adds labels and annotations to every object and to the pod templates of workloads,
 * so that pods carry them too (CronJobs: the job template and its pod template).
 *
 * A label value that is not a valid label value is sanitized (see sanitizeLabelValue)
 * and its full value goes into an annotation with the same key, unless `annotations`
 * sets that key itself. Existing keys are overwritten: the deploy's trace wins.
 *
 * Job pod templates are left alone: a Job's spec.template is immutable, so a new
 * commit label there would make every re-deploy of an unchanged Job fail.
 * With `podTemplates: false` only the objects themselves are stamped, so metadata that
 * changes on every run does not change the pod template and restart every pod.
 */
export function addMetadata(manifests: Manifest[], meta: TraceMetadata, options: { podTemplates?: boolean } = {}): void {
  const podTemplates = options.podTemplates ?? true;
  const errors: GantryError[] = [];
  for (const [field, map] of [['label', meta.labels], ['annotation', meta.annotations]] as const) {
    for (const key of Object.keys(map ?? {})) {
      if (!isQualifiedName(key)) errors.push(new GantryError(`"${key}" is not a valid ${field} key`, { title: 'Invalid input', hint: 'Use [prefix/]name: a DNS prefix of at most 253 characters, and a name of at most 63 letters, digits, "-", "_" or ".".' }));
    }
  }
  if (errors.length > 0) throw new GantryErrors(errors);

  const labels: Record<string, string> = {};
  const annotations: Record<string, string> = {};
  for (const [k, v] of Object.entries(meta.labels ?? {})) {
    labels[k] = sanitizeLabelValue(v);
    if (labels[k] !== v) annotations[k] = v;
  }
  Object.assign(annotations, meta.annotations ?? {});
  const hasLabels = Object.keys(labels).length > 0;
  const hasAnnotations = Object.keys(annotations).length > 0;
  if (!hasLabels && !hasAnnotations) return;

  const stamp = (holder: Record<string, unknown>): void => {
    const md = (holder.metadata = isMapping(holder.metadata) ? holder.metadata : {}) as Record<string, unknown>;
    if (hasLabels) md.labels = { ...(isMapping(md.labels) ? md.labels : {}), ...labels };
    if (hasAnnotations) md.annotations = { ...(isMapping(md.annotations) ? md.annotations : {}), ...annotations };
  };
  for (const { object } of manifests) {
    stamp(object);
    if (!podTemplates || object.kind === 'Pod' || object.kind === 'Job') continue;
    if (object.kind === 'CronJob') {
      const jobTemplate = (object.spec as Record<string, unknown> | undefined)?.jobTemplate;
      if (isMapping(jobTemplate)) stamp(jobTemplate);
    }
    const template = podTemplateOf(object);
    if (template) stamp(template);
  }
}
