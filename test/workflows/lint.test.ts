// The workflows and action metadata users consume: actionlint-clean, minimal
// permissions, no expression injection into scripts, and every action wired to a bundle.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO_ROOT } from '../support/bundle.js';

const ACTIONLINT = join(process.env.GANTRY_TOOLS_DIR ?? join(homedir(), '.cache/gantry/tools'), 'actionlint');
const workflowFiles = ['.github/workflows', 'workflows'].flatMap((dir) =>
  readdirSync(join(REPO_ROOT, dir)).filter((f) => /\.ya?ml$/.test(f)).map((f) => `${dir}/${f}`),
);
const actionFiles = ['action.yml', ...readdirSync(join(REPO_ROOT, 'actions')).map((d) => `actions/${d}/action.yml`)];

interface Step { run?: string; uses?: string }
interface Workflow { permissions?: unknown; jobs: Record<string, { steps?: Step[]; permissions?: unknown; uses?: string }> }
interface ActionMeta { runs: { using: string; main?: string; post?: string; steps?: Step[] } }

const load = <T>(file: string): T => parse(readFileSync(join(REPO_ROOT, file), 'utf8')) as T;
const INJECTION = /\$\{\{\s*(inputs\.|github\.event\.)/;

describe('workflows', () => {
  it('pass actionlint', () => {
    expect(existsSync(ACTIONLINT), `actionlint not found at ${ACTIONLINT}; \`bash test/stack/stack.sh up\` builds it`).toBe(true);
    const result = (() => {
      try {
        return execFileSync(ACTIONLINT, ['-no-color', ...workflowFiles], { cwd: REPO_ROOT, encoding: 'utf8' });
      } catch (err) {
        return (err as { stdout: string }).stdout;
      }
    })();
    expect(result).toBe('');
  });

  it.each(workflowFiles)('%s declares minimal top-level permissions', (file) => {
    const wf = load<Workflow>(file);
    expect(wf.permissions, `${file} has no top-level permissions:`).toBeDefined();
    expect(wf.permissions).not.toBe('write-all');
  });

  it.each([...workflowFiles, ...actionFiles])('%s passes inputs and event data to scripts through env, never inline', (file) => {
    const doc = load<Workflow & ActionMeta>(file);
    const steps = [...Object.values(doc.jobs ?? {}).flatMap((j) => j.steps ?? []), ...(doc.runs?.steps ?? [])];
    for (const step of steps) if (step.run) expect(step.run, `${file}: a run: script expands an expression inline`).not.toMatch(INJECTION);
  });
});

describe('actions', () => {
  it.each(actionFiles)('%s runs on node24 from a committed bundle', (file) => {
    const meta = load<ActionMeta>(file);
    expect(meta.runs.using).toBe('node24');
    const dir = join(REPO_ROOT, file, '..');
    for (const entry of [meta.runs.main, meta.runs.post].filter((e): e is string => !!e)) {
      expect(existsSync(join(dir, entry)), `${file}: ${entry} does not exist`).toBe(true);
    }
  });
});

describe('the all-in-one action', () => {
  interface Meta { inputs: Record<string, unknown>; outputs: Record<string, unknown> }
  it('takes every input of build-push and deploy (deploy\'s context as kube-context) and gives every output', () => {
    const root = load<Meta>('action.yml');
    const build = load<Meta>('actions/build-push/action.yml');
    const deploy = load<Meta>('actions/deploy/action.yml');
    const expected = [...Object.keys(build.inputs), ...Object.keys(deploy.inputs).map((k) => (k === 'context' ? 'kube-context' : k))];
    expect(Object.keys(root.inputs).sort()).toEqual([...new Set(expected)].sort());
    expect(Object.keys(root.outputs).sort()).toEqual([...new Set([...Object.keys(build.outputs), ...Object.keys(deploy.outputs)])].sort());
  });
});
