// How a plan reads: one markdown document for the job summary and the sticky PR comment
// (what a merge creates, changes and leaves behind, field by field, then the rollout's
// strategy, steps and gates), the JSON of the `plan` output, and the action's outputs.
import { commandGateName } from '../checks/command.js';
import { httpGateName } from '../checks/http.js';
import { jobGateName } from '../checks/job.js';
import { prometheusGateName } from '../checks/prometheus.js';
import type { GateSpec } from '../checks/spec.js';
import { showDuration } from '../checks/test-run.js';
import type { CanaryStep, GateSpecs } from '../config/progressive.js';
import { GantryError, GantryErrors, formatLocation } from '../errors.js';
import type { ObjectDiff } from '../kube/diff.js';
import type { Plan, RolloutPlan } from '../strategies/plan.js';
import type { Reporter } from './reporter.js';
import { COMMENT_LIMIT, marker } from './sticky-comment.js';

/** The hidden first line that makes the plan's comment findable: one per target and pull request. */
export function planMarker(target: { namespace: string; app: string }): string {
  return marker(`gantry-plan: ${target.namespace}/${target.app}`);
}

export interface RenderContext {
  /** The commit planned. */
  commit?: string;
  /** This run, where the whole plan can be read when the comment had to leave diffs out. */
  runUrl?: string;
  /** The most characters the document may have. */
  limit: number;
}

/** The job summary takes up to 1 MiB per step; the rest of the room is left to other steps' summaries. */
export const SUMMARY_LIMIT = 512 * 1024;
/** What a comment may hold, less room for the note that says what was left out. */
export const COMMENT_BUDGET = COMMENT_LIMIT - 1024;

/** A fence longer than any run of backticks in the text, so a diff cannot end its own code block. */
function fenced(text: string, lang = ''): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  return `${fence}${lang}\n${text}\n${fence}`;
}

const code = (text: string): string => `\`${text.replace(/`/g, "'")}\``;
const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Diffs of at most this many lines are shown open; longer ones are folded. */
const OPEN_LINES = 25;
/** Fields named per object in the table before "and N more". */
const TABLE_FIELDS = 4;

export function changeCount(plan: Plan): number | undefined {
  return plan.diff.status === 'done' ? plan.diff.changes.length : undefined;
}

function headline(plan: Plan): string {
  const d = plan.diff;
  if (d.status === 'skipped') return `🔎 ${plural(plan.objects, 'object')} rendered and validated; **diff skipped**: ${d.reason}.`;
  const creates = d.changes.filter((c) => c.action === 'create').length;
  const changes = d.changes.length - creates;
  const what = d.changes.length === 0 ? '✅ **No changes**' : `📝 **${plural(d.changes.length, 'change')}**: ${creates} to create, ${changes} to change`;
  const checked = d.validation === 'dry-run' ? 'validated by the server (dry run)' : '⚠️ not validated by the server (the credentials may not run a dry run)';
  return `${what}; ${d.unchanged} unchanged · ${plural(plan.objects, 'object')} · ${checked}`;
}

function fieldList(c: ObjectDiff): string {
  if (c.action === 'create') return 'new';
  const shown = c.fields.slice(0, TABLE_FIELDS).map((f) => code(f.path || '(whole object)')).join(', ');
  return c.fields.length > TABLE_FIELDS ? `${shown} and ${c.fields.length - TABLE_FIELDS} more` : shown;
}

function changeTable(plan: Plan): string {
  if (plan.diff.status !== 'done') return '';
  const rows = plan.diff.changes.map((c) => `| ${c.action === 'create' ? '➕ create' : '✏️ change'} | ${code(c.name)}${c.liveAs ? ` (live as ${code(c.liveAs)})` : ''} | ${fieldList(c)} |`);
  rows.push(...plan.diff.dropped.map((d) => `| ⚠️ dropped | ${code(d.name)} | in r${d.revision}, no longer in the manifests: a deploy leaves it in the cluster |`));
  return rows.length ? `| | object | fields |\n|---|---|---|\n${rows.join('\n')}\n` : '';
}

function diffBlock(c: ObjectDiff): string {
  const lines = c.text.split('\n').length;
  const what = c.action === 'create' ? 'create' : `change: ${plural(c.fields.length, 'field')}`;
  return `<details${lines <= OPEN_LINES ? ' open' : ''}><summary><code>${c.name}</code> (${what})</summary>\n\n${fenced(c.text, 'diff')}\n\n</details>\n`;
}

/** One line per gate: its name, what it checks and how often; plain text for the JSON output. */
export function gateLine(g: GateSpec, markdown = true): string {
  const c = g.check;
  // The same name the gate gets in the rollout's log, and what it looks at when a name hides that.
  let target: string;
  let detail = '';
  switch (c.kind) {
    case 'http':
      target = httpGateName(c);
      break;
    case 'prometheus':
      target = prometheusGateName(c);
      detail = `: ${code(c.condition)}`;
      break;
    case 'judge':
      target = 'judge';
      detail = `: canary vs stable on ${c.metrics.map((m) => m.name).join(', ')}`;
      break;
    case 'job':
      target = jobGateName(c);
      break;
    case 'command':
      target = commandGateName(c);
      break;
  }
  const show = markdown ? code : (t: string) => t;
  const name = g.name && g.name !== target ? `${markdown ? `**${g.name}**` : g.name}: ${show(target)}` : show(target);
  const times = g.count > 1 ? `, ${g.count}× every ${showDuration(g.intervalMs)}` : '';
  const delay = g.initialDelayMs > 0 ? `, after ${showDuration(g.initialDelayMs)}` : '';
  return `${name}${markdown ? detail : detail.replace(/`/g, '')}${times}${delay}`;
}

function gateList(gates: GateSpecs, indent = ''): string {
  return gates.map((g) => `${indent}- ${gateLine(g)}`).join('\n');
}

function stepLine(step: CanaryStep): string {
  if ('setWeight' in step) return `set weight **${step.setWeight} %**`;
  if ('pause' in step) return step.pause.durationMs === undefined ? 'pause until promoted (the promote action)' : `pause ${showDuration(step.pause.durationMs)}`;
  return `analysis:\n${gateList(step.analysis, '   ')}`;
}

function rolloutSection(r: RolloutPlan): string {
  const parts: string[] = [];
  if (r.strategy === 'canary') {
    parts.push(`**canary** with the ${r.router ?? 'replica-ratio'} router${r.route ? ` on HTTPRoute ${code(r.route)}` : ''}${r.service ? `, Service ${code(r.service)}` : ''}:`);
    parts.push([...r.steps.map((s, i) => `${i + 1}. ${stepLine(s)}`), `${r.steps.length + 1}. promote: the stable version takes the new spec`].join('\n'));
    if (r.background.length) parts.push(`Beside the whole canary:\n${gateList(r.background)}`);
  } else if (r.strategy === 'blue-green') {
    parts.push(`**blue-green**${r.service ? ` behind Service ${code(r.service)}` : ''}: the new version runs beside the live one until every pod is ready, then traffic switches in one patch; the old version stays ${showDuration(r.scaleDownDelayMs ?? 30_000)} for an instant switch back.`);
    parts.push(r.prePromotion.length ? `Before the switch (on the preview Service):\n${gateList(r.prePromotion)}` : 'Before the switch: no gates.');
    if (r.postPromotion.length) parts.push(`After the switch:\n${gateList(r.postPromotion)}`);
  } else {
    parts.push('**basic**: apply all or nothing, wait until ready, roll back on failure.');
    if (r.postPromotion.length) parts.push(`After the wait:\n${gateList(r.postPromotion)}`);
  }
  return `#### Rollout\n${parts.join('\n\n')}\n`;
}

function footer(ctx: RenderContext): string {
  const bits = [ctx.commit ? `commit ${code(ctx.commit.slice(0, 12))}` : undefined, ctx.runUrl ? `[run](${ctx.runUrl})` : undefined].filter(Boolean);
  return bits.length ? `\n<sub>Gantry plan · ${bits.join(' · ')}</sub>\n` : '';
}

/** The plan as markdown, first line its marker; diffs that do not fit within `ctx.limit` are named, not shown. */
export function renderPlan(plan: Plan, ctx: RenderContext): string {
  const head = [
    planMarker(plan.target),
    `### Gantry plan: ${code(`${plan.target.namespace}/${plan.target.app}`)}`,
    '',
    headline(plan),
    '',
    changeTable(plan),
  ].join('\n');
  const rollout = rolloutSection(plan.rollout);
  const end = footer(ctx);
  const changes = plan.diff.status === 'done' ? plan.diff.changes : [];
  let room = ctx.limit - head.length - rollout.length - end.length - 600;
  const shown: string[] = [];
  const left: string[] = [];
  for (const c of changes) {
    const block = diffBlock(c);
    if (left.length === 0 && block.length <= room) {
      shown.push(block);
      room -= block.length;
    } else {
      left.push(c.name);
    }
  }
  let note = '';
  if (left.length) {
    note = `\n> [!NOTE]\n> The diffs of ${plural(left.length, 'object')} were left out: GitHub limits a comment to ${COMMENT_LIMIT.toLocaleString('en-US')} characters.${ctx.runUrl ? ` The job summary of the [run](${ctx.runUrl}) has them.` : ''}\n`;
    const names = left.map(code).join(', ');
    note += names.length < 400 ? `> Left out: ${names}\n` : '';
  }
  return `${head}${shown.length ? `\n${shown.join('\n')}` : ''}${note}\n${rollout}${end}`;
}

/** What the comment says when the plan failed (a YAML error, an object the server rejects): each problem at its file:line. */
export function renderPlanFailure(target: { namespace: string; app: string }, error: GantryError, ctx: RenderContext): string {
  const errors = error instanceof GantryErrors ? error.errors : [error];
  const lines = errors.map((e) => `- ${e.location ? `${code(formatLocation(e.location))}: ` : ''}${e.message.split('\n')[0]!.replace(/\s+/g, ' ').slice(0, 500)}`);
  let body = lines.join('\n');
  if (body.length > ctx.limit - 2000) body = `${body.slice(0, ctx.limit - 2000)}\n- …`;
  return [
    planMarker(target),
    `### Gantry plan: ${code(`${target.namespace}/${target.app}`)}`,
    '',
    `❌ **The plan failed**: ${plural(errors.length, 'problem')}${errors.some((e) => e.location) ? ', annotated on the files' : ''}. Nothing was planned; fix ${errors.length === 1 ? 'it' : 'them'} and push again.`,
    '',
    body,
    footer(ctx),
  ].join('\n');
}

/** The `plan` output: what changes, field paths (no values: Secrets are in the set), and the rollout. */
export function planJson(plan: Plan): Record<string, unknown> {
  const d = plan.diff;
  const gates = (list: GateSpecs) => list.map((g) => gateLine(g, false));
  const r = plan.rollout;
  return {
    target: plan.target,
    objects: plan.objects,
    diff: d.status === 'skipped'
      ? { status: 'skipped', reason: d.reason }
      : {
        status: 'done',
        validation: d.validation,
        create: d.changes.filter((c) => c.action === 'create').map((c) => c.name),
        change: d.changes.filter((c) => c.action === 'change').map((c) => ({ object: c.name, ...(c.liveAs ? { liveAs: c.liveAs } : {}), fields: c.fields.map((f) => f.path) })),
        unchanged: d.unchanged,
        dropped: d.dropped,
      },
    rollout: {
      strategy: r.strategy,
      ...(r.strategy === 'canary' ? { steps: r.steps.map((s) => ('analysis' in s ? { analysis: gates(s.analysis) } : 'pause' in s ? { pause: s.pause.durationMs === undefined ? 'until promoted' : showDuration(s.pause.durationMs) } : s)), router: r.router } : {}),
      ...(r.service ? { service: r.service } : {}),
      prePromotion: gates(r.prePromotion),
      postPromotion: gates(r.postPromotion),
      background: gates(r.background),
    },
  };
}

/** `changes` and `has-changes` are empty when the diff was skipped: nobody knows then. */
export function setPlanOutputs(reporter: Reporter, plan: Plan): void {
  const n = changeCount(plan);
  reporter.setOutput('changes', n === undefined ? '' : String(n));
  reporter.setOutput('has-changes', n === undefined ? '' : String(n > 0));
  reporter.setOutput('plan', JSON.stringify(planJson(plan)));
}
