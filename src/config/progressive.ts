// Settings of the progressive strategies: which strategy, the canary's steps (inline YAML
// or a file), the traffic router, the Services involved and the gates at each point.
// Steps are validated here, before anything touches a cluster; every problem names its
// YAML path (steps[2].setWeight) and, when the steps come from a file, its file:line.
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import { LineCounter, parseDocument, isMap, isSeq, type Node } from 'yaml';
import type { PrometheusEndpoint } from '../checks/gate.js';
import { parseGateSpecs, type GateSpec } from '../checks/spec.js';
import { GantryError } from '../errors.js';
import { parseDuration, Reader } from './source.js';

export type Strategy = 'basic' | 'blue-green' | 'canary';
export const STRATEGIES: readonly Strategy[] = ['basic', 'blue-green', 'canary'];
export type RouterKind = 'replica-ratio' | 'gateway-httproute';
export const ROUTERS: readonly RouterKind[] = ['replica-ratio', 'gateway-httproute'];

/** Gates as parsed and checked by checks/spec.ts; they run at each point of a rollout. */
export type GateSpecs = GateSpec[];

export type CanaryStep =
  | { setWeight: number }
  | { pause: { durationMs?: number } }
  | { analysis: GateSpecs };

export interface ProgressiveConfig {
  strategy: Strategy;
  steps: CanaryStep[];
  router: RouterKind;
  /** gateway-httproute: the HTTPRoute whose backend is the stable Service. */
  route?: string;
  /** The Service that fronts the app (blue-green: the active one; canary: the stable one); found from the manifests when not given. */
  service?: string;
  /** blue-green: how long the old version stays at full scale after the switch, for an instant switch back. */
  scaleDownDelayMs: number;
  prePromotion: GateSpecs;
  postPromotion: GateSpecs;
  /** canary: gates that run for the whole canary, from the first step on (`background` in the rollout document). */
  analysis: GateSpecs;
  /** Gates given by the simple settings; expanded once the app's Service is known. */
  shorthand: ShorthandGates;
  /** Where Prometheus gates and the judge ask, unless a gate gives its own address. */
  prometheus?: PrometheusEndpoint;
}

interface YamlSource {
  text: string;
  /** The file, workspace-relative, when the steps came from one. */
  file?: string;
  setting: string;
}

/** An inline YAML list, or the path of a file (in the workspace) holding one. */
function readYaml(r: Reader, name: string, workspace: string): YamlSource | undefined {
  const value = r.source.get(name);
  if (value === undefined) return undefined;
  const looksLikePath = !value.includes('\n') && /\.ya?ml$/i.test(value.trim());
  if (!looksLikePath) return { text: value, setting: r.source.describe(name) };
  const abs = isAbsolute(value.trim()) ? value.trim() : resolve(workspace, value.trim());
  const rel = relative(workspace, abs);
  if (rel.startsWith('..')) {
    r.problem(name, `names a file outside the workspace: "${value.trim()}"`);
    return undefined;
  }
  if (!existsSync(abs)) {
    r.problem(name, `names a file that does not exist: "${rel}"`, 'give the steps inline as a YAML list, or the path of a YAML file in the repository');
    return undefined;
  }
  return { text: readFileSync(abs, 'utf8'), file: rel, setting: r.source.describe(name) };
}

/** Problems of one YAML document, each with its path and, for a file, file:line. */
class YamlProblems {
  readonly lines = new LineCounter();
  constructor(private readonly src: YamlSource, private readonly errors: GantryError[]) {}
  add(path: string, message: string, node?: Node | null, hint?: string): void {
    const offset = node?.range?.[0];
    const line = offset === undefined ? undefined : this.lines.linePos(offset).line;
    const where = this.src.file ? '' : `${this.src.setting}: `;
    this.errors.push(new GantryError(`${where}${path}: ${message}`, {
      title: 'Invalid steps', hint, location: this.src.file ? { file: this.src.file, line } : undefined,
    }));
  }
}

const STEP_KINDS = ['setWeight', 'pause', 'analysis'] as const;

/** Gate lists, checked by the gates' own parser; its problems are placed at the list's file:line. */
function gateList(value: unknown, path: string, node: Node | null | undefined, problems: YamlProblems): GateSpecs {
  if (!Array.isArray(value)) {
    problems.add(path, 'must be a list of gates', node, 'e.g. - http: {service: "${preview}", port: 80, path: /healthz}');
    return [];
  }
  const { specs, errors } = parseGateSpecs(value, path);
  for (const e of errors) {
    const index = Number(/^\[(\d+)\]/.exec(e.path.slice(path.length))?.[1]);
    problems.add(e.path, e.detail, isSeq(node) && Number.isInteger(index) ? node.items[index] as Node : node, e.hint);
  }
  return specs;
}

/** Parses and checks the canary steps. */
export function parseSteps(src: YamlSource, errors: GantryError[]): CanaryStep[] {
  const problems = new YamlProblems(src, errors);
  const doc = parseDocument(src.text, { lineCounter: problems.lines });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    problems.add('steps', `is not valid YAML: ${e.message.split('\n')[0]}`, { range: [e.pos[0], e.pos[1], e.pos[1]] } as unknown as Node);
    return [];
  }
  return stepsFrom(doc.contents, problems);
}

/** The steps of a YAML list node, at path `steps`. */
function stepsFrom(root: Node | null | undefined, problems: YamlProblems): CanaryStep[] {
  if (!isSeq(root)) {
    problems.add('steps', 'must be a YAML list of steps', root, 'e.g. [{setWeight: 10}, {pause: {duration: 1m}}, {setWeight: 50}, {pause: {}}]');
    return [];
  }
  const steps: CanaryStep[] = [];
  let lastWeight = 0;
  root.items.forEach((item, i) => {
    const path = `steps[${i}]`;
    const node = item as Node;
    if (!isMap(node)) {
      problems.add(path, 'must be a mapping with one of setWeight, pause or analysis', node);
      return;
    }
    const value = node.toJSON() as Record<string, unknown>;
    const keys = Object.keys(value).filter((k) => k !== 'allowDecrease');
    const unknown = keys.filter((k) => !(STEP_KINDS as readonly string[]).includes(k));
    for (const k of unknown) problems.add(`${path}.${k}`, `is not a step; expected one of ${STEP_KINDS.join(', ')}`, node.get(k, true) as Node ?? node);
    const kinds = keys.filter((k) => (STEP_KINDS as readonly string[]).includes(k));
    if (unknown.length > 0) return;
    if (kinds.length !== 1) {
      problems.add(path, `must have exactly one of ${STEP_KINDS.join(', ')}, got ${kinds.length === 0 ? 'none' : kinds.join(' and ')}`, node);
      return;
    }
    const kind = kinds[0]!;
    const at = node.get(kind, true) as Node | undefined;
    if ('allowDecrease' in value && kind !== 'setWeight') problems.add(`${path}.allowDecrease`, 'only goes with setWeight', node);
    if (kind === 'setWeight') {
      const w = value.setWeight;
      if (typeof w !== 'number' || !Number.isInteger(w) || w < 0 || w > 100) {
        problems.add(`${path}.setWeight`, `must be a whole percentage from 0 to 100, got ${JSON.stringify(w)}`, at);
        return;
      }
      if (w < lastWeight && value.allowDecrease !== true) {
        problems.add(`${path}.setWeight`, `goes down from ${lastWeight} to ${w}`, at, 'add `allowDecrease: true` to the step if that is intended');
      }
      lastWeight = w;
      steps.push({ setWeight: w });
    } else if (kind === 'pause') {
      const p = value.pause ?? {};
      if (typeof p !== 'object' || Array.isArray(p)) {
        problems.add(`${path}.pause`, 'must be {} (wait for a promote) or {duration: 2m}', at);
        return;
      }
      const extra = Object.keys(p as object).filter((k) => k !== 'duration');
      for (const k of extra) problems.add(`${path}.pause.${k}`, 'is not a pause field; expected duration', at);
      const d = (p as { duration?: unknown }).duration;
      if (d === undefined) {
        steps.push({ pause: {} });
        return;
      }
      const ms = typeof d === 'number' ? d * 1000 : typeof d === 'string' ? parseDuration(d) : undefined;
      if (ms === undefined || ms <= 0) {
        problems.add(`${path}.pause.duration`, `must be a duration like 30s or 2m, got ${JSON.stringify(d)}`, at);
        return;
      }
      steps.push({ pause: { durationMs: ms } });
    } else {
      steps.push({ analysis: gateList(value.analysis, `${path}.analysis`, at, problems) });
    }
  });
  if (steps.length > 0 && !steps.some((s) => 'setWeight' in s)) problems.add('steps', 'has no setWeight step: the canary would never get traffic', root);
  return steps;
}

function gates(r: Reader, name: string, workspace: string): GateSpecs | undefined {
  const src = readYaml(r, name, workspace);
  if (!src) return undefined;
  const problems = new YamlProblems(src, r.errors);
  const doc = parseDocument(src.text, { lineCounter: problems.lines });
  if (doc.errors.length > 0) {
    r.problem(name, `is not valid YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
    return [];
  }
  return gateList(doc.toJSON(), r.source.describe(name).replace(/^input "|"$|^--/g, ''), doc.contents, problems);
}

/** What a rollout document holds: the steps and the gates at each point, each optional. */
interface RolloutParts {
  steps?: CanaryStep[];
  prePromotion?: GateSpecs;
  postPromotion?: GateSpecs;
  background?: GateSpecs;
}

const ROLLOUT_KEYS = ['steps', 'pre-promotion', 'post-promotion', 'background'] as const;

/**
 * The `rollout` setting: one YAML mapping (inline, or a file in the workspace) with the
 * canary's `steps` and the `pre-promotion`, `post-promotion` and `background` gate lists.
 */
function rolloutDocument(r: Reader, workspace: string): RolloutParts {
  const src = readYaml(r, 'rollout', workspace);
  if (!src) return {};
  const problems = new YamlProblems(src, r.errors);
  const doc = parseDocument(src.text, { lineCounter: problems.lines });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    problems.add('rollout', `is not valid YAML: ${e.message.split('\n')[0]}`, { range: [e.pos[0], e.pos[1], e.pos[1]] } as unknown as Node);
    return {};
  }
  const root = doc.contents;
  if (!isMap(root)) {
    problems.add('rollout', `must be a mapping with any of ${ROLLOUT_KEYS.join(', ')}`, root, 'e.g. {steps: [{setWeight: 20}, {pause: {duration: 1m}}], background: [{prometheus: {...}}]}');
    return {};
  }
  const parts: RolloutParts = {};
  for (const pair of root.items) {
    const key = String((pair.key as { value?: unknown } | null)?.value ?? pair.key);
    const node = pair.value as Node | null;
    const value = (node as { toJSON?: () => unknown } | null)?.toJSON?.() ?? null;
    if (key === 'steps') parts.steps = stepsFrom(node, problems);
    else if (key === 'pre-promotion') parts.prePromotion = gateList(value, key, node, problems);
    else if (key === 'post-promotion') parts.postPromotion = gateList(value, key, node, problems);
    else if (key === 'background') parts.background = gateList(value, key, node, problems);
    else problems.add(key, `is not a rollout setting; expected one of ${ROLLOUT_KEYS.join(', ')}`, pair.key as Node);
  }
  return parts;
}

/** The settings that expand into gates, for the simple cases. */
export interface ShorthandGates {
  /** A full URL, or a path on the new version's Service (through the API server's proxy). */
  smokeUrl?: string;
  /** The highest tolerated fraction of 5xx answers from the new version's pods. */
  maxErrorRate?: number;
  maxP95LatencyMs?: number;
}

/** Where the shorthand metric gates look: the de-facto names of client libraries' HTTP metrics. */
export const SHORTHAND_METRICS = {
  requests: 'http_requests_total',
  statusLabel: 'code',
  duration: 'http_request_duration_seconds',
} as const;

/** How often shorthand metric gates measure, and how long they wait first for a rate window to fill. */
const SHORTHAND_INTERVAL = '10s';

/** CEL compares double with double: the bound is written with a decimal point. */
const celNumber = (n: number): string => (Number.isInteger(n) ? `${n}.0` : String(n));

/**
 * The gates the shorthand settings stand for, as a user would write them: `smoke`, `error rate`
 * and `p95 latency`, measuring the new version's pods ({{canary}}). `port` is the app Service's
 * first port, for a smoke path.
 */
export function shorthandGateItems(s: ShorthandGates, port: number | string | undefined): unknown[] {
  const items: unknown[] = [];
  if (s.smokeUrl !== undefined) {
    items.push(s.smokeUrl.startsWith('/')
      ? { name: 'smoke', http: { service: '${canary}', port, path: s.smokeUrl } }
      : { name: 'smoke', http: { url: s.smokeUrl } });
  }
  const { requests, statusLabel, duration } = SHORTHAND_METRICS;
  const pods = 'namespace="{{namespace}}", pod=~"{{canary}}"';
  const metric = { interval: SHORTHAND_INTERVAL, 'initial-delay': SHORTHAND_INTERVAL, count: 3, 'inconclusive-limit': 1 };
  if (s.maxErrorRate !== undefined) {
    items.push({
      name: 'error rate',
      prometheus: {
        // `or vector(0)`: no 5xx series at all means no errors, not no data; no requests at all stays empty.
        query: `(sum(rate(${requests}{${pods}, ${statusLabel}=~"5.."}[{{interval}}])) or vector(0)) / sum(rate(${requests}{${pods}}[{{interval}}]))`,
        condition: `result <= ${celNumber(s.maxErrorRate)}`,
      },
      ...metric,
    });
  }
  if (s.maxP95LatencyMs !== undefined) {
    items.push({
      name: 'p95 latency',
      prometheus: {
        query: `1000 * histogram_quantile(0.95, sum by (le) (rate(${duration}_bucket{${pods}}[{{interval}}])))`,
        condition: `result <= ${celNumber(s.maxP95LatencyMs)}`,
      },
      ...metric,
    });
  }
  return items;
}

/** The shorthand gates, parsed like any others; `port` as for shorthandGateItems. */
export function shorthandGates(s: ShorthandGates, port: number | string | undefined, prometheus?: string): GateSpecs {
  const items = shorthandGateItems(s, port).map((item) => {
    const gate = item as { prometheus?: Record<string, unknown> };
    return gate.prometheus && prometheus ? { ...gate, prometheus: { ...gate.prometheus, address: prometheus } } : item;
  });
  const { specs, errors } = parseGateSpecs(items, 'shorthand');
  if (errors.length > 0) throw errors[0]!;
  return specs;
}

/** Where each strategy runs the shorthand gates: the smoke test before traffic where there is a "before", metrics once traffic flows. */
export function shorthandPlacement(strategy: Strategy): { smoke: 'pre-promotion' | 'post-promotion' | 'background'; metrics: 'post-promotion' | 'background' } {
  if (strategy === 'blue-green') return { smoke: 'pre-promotion', metrics: 'post-promotion' };
  if (strategy === 'canary') return { smoke: 'background', metrics: 'background' };
  return { smoke: 'post-promotion', metrics: 'post-promotion' };
}

function parseShorthand(r: Reader): ShorthandGates {
  const out: ShorthandGates = {};
  const smoke = r.string('smoke-url');
  if (smoke !== undefined) {
    const path = smoke.startsWith('/');
    let ok = path && !/\s/.test(smoke);
    if (!path) {
      try {
        ok = ['http:', 'https:'].includes(new URL(smoke).protocol);
      } catch {
        ok = false;
      }
    }
    if (ok) out.smokeUrl = smoke;
    else r.problem('smoke-url', `must be an http(s) URL or a path such as /healthz on the new version's Service, got "${smoke}"`);
  }
  const number = (name: string, max: number): number | undefined => {
    const v = r.string(name);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < 0 || n > max) {
      r.problem(name, `must be a number from 0 to ${max}, got "${v}"`);
      return undefined;
    }
    return n;
  };
  const rate = number('max-error-rate', 1);
  if (rate !== undefined) out.maxErrorRate = rate;
  const p95 = number('max-p95-latency-ms', 3_600_000);
  if (p95 !== undefined) out.maxP95LatencyMs = p95;
  return out;
}

function parsePrometheusSettings(r: Reader): PrometheusEndpoint | undefined {
  const url = r.string('prometheus-url');
  const token = r.string('prometheus-token');
  const username = r.string('prometheus-username');
  const password = r.string('prometheus-password');
  if (url === undefined) {
    for (const name of ['prometheus-token', 'prometheus-username', 'prometheus-password'] as const) {
      if (r.string(name) !== undefined) r.problem(name, 'is set, but prometheus-url is not');
    }
    return undefined;
  }
  try {
    if (!['http:', 'https:'].includes(new URL(url).protocol)) throw new Error('protocol');
  } catch {
    r.problem('prometheus-url', `must be an http(s) URL such as http://prometheus.monitoring:9090, got "${url}"`);
    return undefined;
  }
  if (token !== undefined && (username !== undefined || password !== undefined)) r.problem('prometheus-token', 'and prometheus-username/password are both set; give one kind of credentials');
  if (password !== undefined && username === undefined) r.problem('prometheus-password', 'is set without prometheus-username');
  return { url: url.replace(/\/+$/, ''), ...(token === undefined ? {} : { bearerToken: token }), ...(username === undefined ? {} : { username }), ...(password === undefined ? {} : { password }) };
}

/** The default canary: a small step, a look, half, a look, then all. */
export const DEFAULT_STEPS: CanaryStep[] = [{ setWeight: 20 }, { pause: { durationMs: 30_000 } }, { setWeight: 50 }, { pause: { durationMs: 30_000 } }];

/** Every gate with where it was written, for checks across lists. */
function everyGate(c: Pick<ProgressiveConfig, 'steps' | 'prePromotion' | 'postPromotion' | 'analysis'>): GateSpec[] {
  return [...c.prePromotion, ...c.postPromotion, ...c.analysis, ...c.steps.flatMap((s) => ('analysis' in s ? s.analysis : []))];
}

export function parseProgressive(r: Reader, workspace: string): ProgressiveConfig {
  const strategy = r.oneOf('strategy', STRATEGIES, 'basic');
  const router = r.oneOf('traffic-router', ROUTERS, 'replica-ratio');
  const route = r.string('route');
  if (router === 'gateway-httproute' && route === undefined && strategy === 'canary') {
    r.problem('route', 'is required with traffic-router gateway-httproute', 'name the HTTPRoute that sends traffic to the stable Service');
  }
  const doc = rolloutDocument(r, workspace);
  // Each part comes from the rollout document or from its own setting, never both.
  const either = <T>(fromDoc: T | undefined, key: string, setting: string, read: () => T | undefined): T | undefined => {
    const fromSetting = read();
    if (fromDoc !== undefined && fromSetting !== undefined) r.problem(setting, `and ${key} in the rollout setting both give the ${key}; keep one`);
    return fromDoc ?? fromSetting;
  };
  const stepsSource = readYaml(r, 'steps', workspace);
  const steps = either(doc.steps, 'steps', 'steps', () => (stepsSource ? parseSteps(stepsSource, r.errors) : undefined));
  if (steps !== undefined && strategy !== 'canary') r.problem(doc.steps ? 'rollout' : 'steps', `${doc.steps ? 'gives steps, which only apply' : 'only applies'} to strategy canary (strategy is ${strategy})`);
  const scaleDownDelayMs = r.duration('scale-down-delay', 30_000);
  const prometheus = parsePrometheusSettings(r);
  const config: ProgressiveConfig = {
    strategy,
    steps: steps ?? DEFAULT_STEPS,
    router,
    route,
    service: r.string('service'),
    scaleDownDelayMs,
    prePromotion: either(doc.prePromotion, 'pre-promotion', 'pre-promotion-analysis', () => gates(r, 'pre-promotion-analysis', workspace)) ?? [],
    postPromotion: either(doc.postPromotion, 'post-promotion', 'post-promotion-analysis', () => gates(r, 'post-promotion-analysis', workspace)) ?? [],
    analysis: either(doc.background, 'background', 'analysis', () => gates(r, 'analysis', workspace)) ?? [],
    shorthand: parseShorthand(r),
    ...(prometheus === undefined ? {} : { prometheus }),
  };
  if (strategy === 'blue-green' && config.analysis.length > 0) r.problem(doc.background ? 'rollout' : 'analysis', 'gives background gates, which run beside a canary\'s steps; blue-green runs pre-promotion and post-promotion gates');
  if (strategy === 'basic' && config.prePromotion.length > 0) r.problem(doc.prePromotion ? 'rollout' : 'pre-promotion-analysis', 'gives pre-promotion gates; the basic strategy runs post-promotion gates, after the new version is ready');
  const all = everyGate(config);
  const judges = all.filter((g) => g.check.kind === 'judge');
  const stepJudges = new Set(config.steps.flatMap((s) => ('analysis' in s ? s.analysis : [])).filter((g) => g.check.kind === 'judge'));
  for (const g of judges) {
    if (strategy !== 'canary' || !stepJudges.has(g)) r.problem(strategy === 'canary' && !stepJudges.has(g) ? 'rollout' : 'strategy', `${g.path}: a judge compares the canary with stable while both serve, so it belongs in a canary step's analysis${strategy === 'canary' ? '' : ` (strategy is ${strategy})`}`);
  }
  const needsPrometheus = all.filter((g) => (g.check.kind === 'prometheus' || g.check.kind === 'judge') && g.check.address === undefined);
  if (!prometheus && needsPrometheus.length > 0) r.problem('prometheus-url', `is not set, and ${needsPrometheus[0]!.path} (a ${needsPrometheus[0]!.check.kind} gate) gives no address`, 'set prometheus-url to the Prometheus that scrapes the app, or address: on the gate');
  if (!prometheus && (config.shorthand.maxErrorRate !== undefined || config.shorthand.maxP95LatencyMs !== undefined)) {
    r.problem('prometheus-url', `is required by ${config.shorthand.maxErrorRate !== undefined ? 'max-error-rate' : 'max-p95-latency-ms'}, which is measured by Prometheus`);
  }
  // The address goes into each gate, so a later run (a promote) that resumes the stored gates asks the same Prometheus.
  if (prometheus) for (const g of all) if ((g.check.kind === 'prometheus' || g.check.kind === 'judge') && g.check.address === undefined) g.check.address = prometheus.url;
  return config;
}

/** Every setting parseProgressive reads. */
export const PROGRESSIVE_SETTINGS = [
  'strategy', 'rollout', 'steps', 'traffic-router', 'route', 'service', 'scale-down-delay', 'pre-promotion-analysis', 'post-promotion-analysis', 'analysis',
  'smoke-url', 'max-error-rate', 'max-p95-latency-ms', 'prometheus-url', 'prometheus-token', 'prometheus-username', 'prometheus-password',
] as const;
