// The rollout summary: the job summary every deploy, promote, abort and rollback writes.
// Its first line is the headline (what happened and why); below it the rollout's timeline
// as the cluster recorded it (so a promote shows the steps an earlier run took), charts of
// the traffic weight and of the metric the gates measured, links, and the target's delivery
// metrics from the rollout ledger. Rendering is pure; readSummaryData fetches what it needs.
import type { Command } from '../config/deploy.js';
import type { KubeClient, KubeObject } from '../kube/client.js';
import { Ledger, ledgerName, type LedgerEntry } from '../kube/ledger.js';
import { RolloutStore, type GateEvent, type RolloutRecord, type TimelineEvent } from '../kube/state.js';
import type { MeasuredSeries } from '../checks/gate.js';
import type { Target } from '../shared/target.js';
import type { RolloutOutcome } from '../strategies/basic.js';
import { headline, type HeadlineContext } from './headline.js';
import { WINDOW_DAYS, deliveryMetrics } from './metrics.js';

export interface SummaryInput {
  command: Command;
  target: Target;
  outcome: RolloutOutcome;
  /** The rollout as the cluster recorded it; only used when it is the outcome's revision. */
  record?: RolloutRecord;
  /** The target's ledger, newest first (this rollout included once it finished); absent when it could not be read. */
  ledger?: LedgerEntry[];
  /** ms since epoch: "last 30 days" and "since the last failure" are counted to it. */
  now: number;
  /** The run, linked when it is a URL (a CLI run names a user and a process instead). */
  runUrl?: string;
  environmentUrl?: string;
}

const ICON: Record<RolloutOutcome['result'], string> = { deployed: '✅', paused: '⏸️', 'rolled-back': '↩️', aborted: '⏹️', failed: '❌' };
const GATE_ICON: Record<GateEvent['status'], string> = { pass: '✅', fail: '❌', inconclusive: '❔', error: '⚠️' };

/** What the summary shows of the cluster's state: the record when it is this outcome's, and the ledger. */
export async function readSummaryData(client: KubeClient, target: Target, revision: number | undefined): Promise<{ record?: RolloutRecord; ledger: LedgerEntry[] }> {
  const store = new RolloutStore(client, target);
  const ledger = new Ledger(client, target);
  const found = await client.getObjects([store.ref(), ledger.ref()]);
  const named = (ref: KubeObject): KubeObject | undefined => found.find((o) => o.metadata.name === ref.metadata.name);
  const record = RolloutStore.decode(named(store.ref()))?.record;
  return { ...(record && record.revision === revision ? { record } : {}), ledger: Ledger.decode(named(ledger.ref())) };
}

/** The headline's context from the record: where a canary paused, which revision a rollback restored. */
export function headlineContext(command: Command, record: RolloutRecord | undefined): HeadlineContext {
  const progress = record?.progress as { kind?: string; step?: number; steps?: unknown[]; weight?: number } | undefined;
  const paused = record?.phase === 'paused' && progress?.kind === 'canary' && progress.step !== undefined && progress.steps !== undefined && progress.weight !== undefined;
  return {
    command,
    ...(paused ? { pausedAt: { step: progress.step!, steps: progress.steps!.length, weight: progress.weight! } } : {}),
    ...(record?.rollbackOf !== undefined ? { restored: record.rollbackOf } : {}),
  };
}

export function renderSummary(input: SummaryInput): string {
  const { outcome, target } = input;
  const record = input.record?.revision === outcome.revision ? input.record : undefined;
  const parts = [`### ${headline(outcome, target, headlineContext(input.command, record))}`, '', facts(input, record), ''];
  const timeline = record?.timeline ?? [];
  if (timeline.length > 0) {
    parts.push('#### Timeline', '', timelineTable(timeline, record!.strategy), '');
    const charts = [weightChart(timeline, record!.strategy), metricChart(timeline)].filter((c): c is string => c !== undefined);
    for (const chart of charts) parts.push(chart, '');
  }
  if (input.ledger) {
    parts.push(`#### Delivery, last ${WINDOW_DAYS} days`, '', metricsTable(input.ledger, input.now, outcome.revision), '',
      `<sub>From the rollout ledger in the cluster (Secret ${ledgerName(target)}, ${input.ledger.length} rollout${input.ledger.length === 1 ? '' : 's'}); the metrics are defined in Gantry's README.</sub>`, '');
  }
  if (outcome.reason) parts.push('<details><summary>Why</summary>', '', '```', outcome.reason, '```', '</details>', '');
  if (outcome.changed.length > 0) parts.push(`<details><summary>Changed objects (${outcome.changed.length})</summary>`, '', outcome.changed.map((c) => `- \`${c}\``).join('\n'), '</details>', '');
  return parts.join('\n');
}

/**
 * The summary of a run that ended before a rollout had an outcome (manifests the server
 * refused, a lock held by another run, nothing to promote): the headline says so, and why.
 */
export function renderErrorSummary(input: Pick<SummaryInput, 'command' | 'target' | 'runUrl' | 'environmentUrl'> & { message: string }): string {
  const first = input.message.split('\n').find((l) => l.trim() !== '')?.trim() ?? 'unknown reason';
  const items = [
    `${ICON.failed} ${input.command} failed`,
    `\`${input.target.namespace}/${input.target.app}\``,
    ...(input.runUrl && /^https?:\/\//.test(input.runUrl) ? [`[run](${input.runUrl})`] : []),
  ];
  return [`### Failed: ${first}`, '', items.join(' · '), '', '<details><summary>Why</summary>', '', '```', input.message, '```', '</details>', ''].join('\n');
}

/** One line of facts under the headline: result, target, revision, time, links. */
function facts(input: SummaryInput, record: RolloutRecord | undefined): string {
  const { outcome, target } = input;
  const revision = outcome.revision === undefined ? undefined : `r${outcome.revision}${outcome.previousRevision !== undefined ? ` (previous r${outcome.previousRevision})` : ''}`;
  const items = [
    `${ICON[outcome.result]} ${outcome.result}`,
    `\`${target.namespace}/${target.app}\``,
    ...(revision ? [revision] : []),
    ...(record ? [record.strategy] : []),
    ...(record ? [`started ${clock(Date.parse(record.startedAt), true)}`] : []),
    `this run ${duration(outcome.timings.totalMs)}${outcome.timings.detectMs !== undefined ? `, failure detected after ${duration(outcome.timings.detectMs)}` : ''}${outcome.timings.rollbackMs !== undefined ? `, rollback ${duration(outcome.timings.rollbackMs)}` : ''}`,
    ...(input.runUrl && /^https?:\/\//.test(input.runUrl) ? [`[run](${input.runUrl})`] : []),
    ...(input.environmentUrl ? [`[environment](${input.environmentUrl})`] : []),
  ];
  return items.join(' · ');
}

interface Row {
  at: number;
  label: string;
  weight?: string;
  gates: GateEvent[];
}

/**
 * The traffic share of the new version after each event: a step sets it (the weight the
 * router achieved, when known), an abort or rollback takes it to 0, a deployed rollout
 * carries everything. Undefined for the basic strategy, which shifts no traffic.
 */
function weightAfter(event: TimelineEvent, before: number): number {
  if (event.type === 'step' && event.weight !== undefined) return event.effective ?? event.weight;
  if (event.type === 'phase') {
    if (event.phase === 'deployed') return 100;
    if (['aborting', 'rolling-back', 'aborted', 'rolled-back', 'failed'].includes(event.phase)) return 0;
  }
  return before;
}

/** Phases and steps make rows; a gate's verdict goes in the row it was taken in. */
function rowsOf(timeline: TimelineEvent[], strategy: RolloutRecord['strategy']): Row[] {
  const rows: Row[] = [];
  let weight = 0;
  for (const e of timeline) {
    weight = weightAfter(e, weight);
    if (e.type === 'gate') {
      if (rows.length > 0) rows[rows.length - 1]!.gates.push(e);
      continue;
    }
    // The reason in full is the headline's and the Why section's; a row shows its start.
    const label = e.type === 'phase' ? `**${e.phase}**${e.reason ? ` — ${clip(e.reason, REASON_IN_ROW)}` : ''}` : e.label;
    const shown = strategy === 'basic' ? undefined
      : e.type === 'step' && e.effective !== undefined && e.weight !== undefined ? `${e.weight} % (effective ${e.effective} %)`
      : `${weight} %`;
    rows.push({ at: e.at, label, ...(shown !== undefined ? { weight: shown } : {}), gates: [] });
  }
  return rows;
}

const REASON_IN_ROW = 100;

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function timelineTable(timeline: TimelineEvent[], strategy: RolloutRecord['strategy']): string {
  const rows = rowsOf(timeline, strategy);
  const withWeight = strategy !== 'basic';
  const header = withWeight ? '| time (UTC) | phase or step | weight | duration | gates |\n|---|---|---|---|---|' : '| time (UTC) | phase or step | duration | gates |\n|---|---|---|---|';
  const lines = rows.map((row, i) => {
    const next = rows[i + 1];
    const cells = [clock(row.at), cell(row.label), ...(withWeight ? [row.weight ?? ''] : []), next ? duration(next.at - row.at) : '', row.gates.map(gateCell).join('<br>')];
    return `| ${cells.join(' | ')} |`;
  });
  return [header, ...lines].join('\n');
}

function gateCell(g: GateEvent): string {
  const how = [g.background ? 'background' : undefined, g.measurements > 1 ? `${g.measurements} measurements` : undefined].filter(Boolean).join(', ');
  return cell(`${GATE_ICON[g.status]} **${g.gate}**${how ? ` (${how})` : ''}: ${g.status}${g.value !== undefined ? ` (${g.value})` : ''} — ${g.message}`);
}

/** Text safe inside a table cell: one line, no column breaks, no accidental HTML. */
function cell(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/\r?\n/g, ' ').replace(/\|/g, '\\|');
}

const WEIGHT_COLOR = '#0969da';
const STABLE_COLOR = '#afb8c1';
const CANARY_COLOR = '#bc4c00';

/**
 * Plot colours, in the order of the plots: xychart draws no legend, so the titles name the
 * plots by shape and the colours keep the new version apart. An init directive rather than
 * front matter: every mermaid that GitHub has shipped reads it.
 */
function palette(colors: string): string {
  return `%%{init: {"themeVariables": {"xyChart": {"plotColorPalette": "${colors}"}}}}%%`;
}

/** Points of a chart: enough to show steps, few enough to read. */
const CHART_POINTS = 30;

/** The x axis of every chart: time since the rollout started, in a unit that suits its length. */
function timeAxis(span: number): { unit: string; per: number } {
  if (span < 3 * 60_000) return { unit: 'seconds', per: 1000 };
  if (span < 3 * 3600_000) return { unit: 'minutes', per: 60_000 };
  return { unit: 'hours', per: 3600_000 };
}

const round = (n: number): number => Number(n.toPrecision(4));

/** Evenly spaced times from `from` to `to` (at least two). */
function grid(from: number, to: number, count = CHART_POINTS): number[] {
  const n = Math.max(2, count);
  return Array.from({ length: n }, (_, i) => from + ((to - from) * i) / (n - 1));
}

function xAxis(origin: number, from: number, to: number, span: number): string {
  const { unit, per } = timeAxis(span);
  return `  x-axis "${unit} since the rollout started" ${round((from - origin) / per)} --> ${round((to - origin) / per)}`;
}

/** Traffic on the new version over the rollout, when a strategy moved it (canary steps, a blue-green switch). */
export function weightChart(timeline: TimelineEvent[], strategy: RolloutRecord['strategy']): string | undefined {
  if (strategy === 'basic' || !timeline.some((e) => e.type === 'step' && e.weight !== undefined)) return undefined;
  const start = timeline[0]!.at;
  const end = Math.max(timeline[timeline.length - 1]!.at, start + 1000);
  const changes: Array<[number, number]> = [];
  let weight = 0;
  for (const e of timeline) {
    weight = weightAfter(e, weight);
    changes.push([e.at, weight]);
  }
  const at = (t: number): number => changes.filter(([when]) => when <= t).at(-1)?.[1] ?? 0;
  const values = grid(start, end).map(at);
  return [
    '```mermaid',
    palette(WEIGHT_COLOR),
    'xychart-beta',
    '  title "Traffic on the new version (%)"',
    xAxis(start, start, end, end - start),
    '  y-axis "weight (%)" 0 --> 100',
    `  line [${values.join(', ')}]`,
    '```',
  ].join('\n');
}

/**
 * The metric that matters most, over time: the series of the gate that failed, else of a
 * judge (canary against stable), else of the first gate that measured a number.
 */
function keySeries(timeline: TimelineEvent[]): { gate: string; series: MeasuredSeries } | undefined {
  const measured = timeline.filter((e): e is GateEvent & { series: MeasuredSeries } => e.type === 'gate' && e.series !== undefined && e.series.points.length > 0);
  const chosen = measured.find((e) => e.status === 'fail') ?? measured.find((e) => e.series.stable !== undefined) ?? measured[0];
  if (!chosen) return undefined;
  // The same gate at several steps (or repeating in the background): one series.
  const same = measured.filter((e) => e.gate === chosen.gate);
  const byTime = (a: [number, number], b: [number, number]): number => a[0] - b[0];
  const stable = same.flatMap((e) => e.series.stable ?? []).sort(byTime);
  return {
    gate: chosen.gate,
    series: { ...chosen.series, points: same.flatMap((e) => e.series.points).sort(byTime), ...(stable.length > 0 ? { stable } : {}) },
  };
}

/** The mean of the points in each slot of the grid, carried on over slots without one (a chart has no gaps). */
function resample(points: Array<[number, number]>, times: number[]): number[] {
  const half = times.length > 1 ? (times[1]! - times[0]!) / 2 : Infinity;
  let last = points[0]?.[1] ?? 0;
  return times.map((t) => {
    const near = points.filter(([when]) => when >= t - half && when < t + half).map(([, v]) => v);
    if (near.length > 0) last = near.reduce((s, v) => s + v, 0) / near.length;
    return round(last);
  });
}

/** The key metric over time; with a judge, the canary's line against the stable version's bars. */
export function metricChart(timeline: TimelineEvent[]): string | undefined {
  const key = keySeries(timeline);
  if (!key) return undefined;
  const { series } = key;
  const all = [...series.points, ...(series.stable ?? [])];
  const from = Math.min(...all.map(([t]) => t));
  const to = Math.max(from + 1000, ...all.map(([t]) => t));
  const start = timeline[0]!.at;
  const times = grid(from, to, Math.min(CHART_POINTS, Math.max(series.points.length, series.stable?.length ?? 0)));
  const unit = series.unit ? ` (${series.unit})` : '';
  const title = series.stable ? `${series.name}${unit}: canary (line) vs stable (bars)` : `${series.name}${unit}, as gate ${key.gate} measured it`;
  const canary = resample(series.points, times);
  const stable = series.stable ? resample(series.stable, times) : undefined;
  // From 0 when nothing is negative: an axis that starts near the values makes a small difference look large.
  const values = [...canary, ...(stable ?? [])];
  const low = Math.min(0, ...values);
  const high = Math.max(...values);
  const range = high > low ? ` ${round(low)} --> ${round(high * 1.1)}` : '';
  return [
    '```mermaid',
    palette(stable ? `${STABLE_COLOR}, ${CANARY_COLOR}` : CANARY_COLOR),
    'xychart-beta',
    `  title "${title.replace(/"/g, "'")}"`,
    xAxis(start, from, to, Math.max(to, timeline[timeline.length - 1]!.at) - start),
    `  y-axis "${(series.unit || series.name).replace(/"/g, "'")}"${range}`,
    ...(stable ? [`  bar [${stable.join(', ')}]`] : []),
    `  line [${canary.join(', ')}]`,
    '```',
  ].join('\n');
}

function metricsTable(ledger: LedgerEntry[], now: number, revision: number | undefined): string {
  const m = deliveryMetrics(ledger, now);
  const deploys = m.deploys === 0 ? '0' : `${m.deploys} (${m.succeeded} succeeded)`;
  const rate = m.changeFailureRate === undefined ? '–' : `${Math.round(m.changeFailureRate * 100)} % (${m.failed} of ${m.deploys})`;
  const unrestored = m.unrestored > 0 ? ` (${m.unrestored} not restored yet)` : '';
  const restore = `${m.medianTimeToRestoreMs === undefined ? '–' : duration(m.medianTimeToRestoreMs)}${unrestored}`;
  const since = !m.lastFailure ? 'none' : m.lastFailure.revision === revision ? 'this rollout' : `${duration(m.sinceLastFailureMs!)} (r${m.lastFailure.revision})`;
  return `| deploys | change-failure rate | median time to restore | time since the last failure |\n|---|---|---|---|\n| ${deploys} | ${rate} | ${restore} | ${since} |`;
}

/** `42 s`, `3 m 12 s`, `2 h 5 m`, `4 d 3 h`. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} m${s % 60 ? ` ${s % 60} s` : ''}`;
  const h = Math.floor(s / 3600);
  if (h < 48) return `${h} h${Math.floor((s % 3600) / 60) ? ` ${Math.floor((s % 3600) / 60)} m` : ''}`;
  return `${Math.floor(h / 24)} d${h % 24 ? ` ${h % 24} h` : ''}`;
}

/** `12:00:03`, or with the date. UTC: runners and people are in any time zone. */
function clock(ms: number, withDate = false): string {
  const iso = new Date(ms).toISOString();
  return withDate ? `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC` : iso.slice(11, 19);
}
