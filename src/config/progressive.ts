// Settings of the progressive strategies: which strategy, the canary's steps (inline YAML
// or a file), the traffic router, the Services involved and the gates at each point.
// Steps are validated here, before anything touches a cluster; every problem names its
// YAML path (steps[2].setWeight) and, when the steps come from a file, its file:line.
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import { LineCounter, parseDocument, isMap, isSeq, type Node } from 'yaml';
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
  /** canary: gates that run for the whole canary, from the first step on. */
  analysis: GateSpecs;
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
  const root = doc.contents;
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

function gates(r: Reader, name: string, workspace: string): GateSpecs {
  const src = readYaml(r, name, workspace);
  if (!src) return [];
  const problems = new YamlProblems(src, r.errors);
  const doc = parseDocument(src.text, { lineCounter: problems.lines });
  if (doc.errors.length > 0) {
    r.problem(name, `is not valid YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
    return [];
  }
  return gateList(doc.toJSON(), r.source.describe(name).replace(/^input "|"$|^--/g, ''), doc.contents, problems);
}

/** The default canary: a small step, a look, half, a look, then all. */
export const DEFAULT_STEPS: CanaryStep[] = [{ setWeight: 20 }, { pause: { durationMs: 30_000 } }, { setWeight: 50 }, { pause: { durationMs: 30_000 } }];

export function parseProgressive(r: Reader, workspace: string): ProgressiveConfig {
  const strategy = r.oneOf('strategy', STRATEGIES, 'basic');
  const router = r.oneOf('traffic-router', ROUTERS, 'replica-ratio');
  const route = r.string('route');
  if (router === 'gateway-httproute' && route === undefined && strategy === 'canary') {
    r.problem('route', 'is required with traffic-router gateway-httproute', 'name the HTTPRoute that sends traffic to the stable Service');
  }
  const stepsSource = readYaml(r, 'steps', workspace);
  if (stepsSource && strategy !== 'canary') r.problem('steps', `only applies to strategy canary (strategy is ${strategy})`);
  const steps = stepsSource ? parseSteps(stepsSource, r.errors) : DEFAULT_STEPS;
  const scaleDownDelayMs = r.duration('scale-down-delay', 30_000);
  return {
    strategy,
    steps,
    router,
    route,
    service: r.string('service'),
    scaleDownDelayMs,
    prePromotion: gates(r, 'pre-promotion-analysis', workspace),
    postPromotion: gates(r, 'post-promotion-analysis', workspace),
    analysis: gates(r, 'analysis', workspace),
  };
}

/** Every setting parseProgressive reads. */
export const PROGRESSIVE_SETTINGS = ['strategy', 'steps', 'traffic-router', 'route', 'service', 'scale-down-delay', 'pre-promotion-analysis', 'post-promotion-analysis', 'analysis'] as const;
