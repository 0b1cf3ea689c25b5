// The README's inputs and outputs tables say what every action.yml says: the same names in the
// same order, the same defaults and required inputs. scripts/readme-tables.mjs writes them.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO_ROOT } from '../support/bundle.js';

const FIX = 'run `node scripts/readme-tables.mjs` to rewrite the tables from the action.yml files';

interface ActionMeta {
  inputs?: Record<string, { default?: unknown; required?: unknown } | null>;
  outputs?: Record<string, unknown>;
}

/** `root` for action.yml, NAME for actions/NAME/action.yml. */
function actions(): { name: string; file: string }[] {
  const dirs = readdirSync(join(REPO_ROOT, 'actions')).filter((d) => existsSync(join(REPO_ROOT, 'actions', d, 'action.yml')));
  return [{ name: 'root', file: 'action.yml' }, ...dirs.sort().map((d) => ({ name: d, file: `actions/${d}/action.yml` }))];
}

/** One row per table line between `<!-- kind:name -->` and its end marker: the name and (inputs) the default column. */
function tableRows(readme: string, kind: 'inputs' | 'outputs', name: string): string[] | undefined {
  const begin = readme.indexOf(`<!-- ${kind}:${name} -->`);
  const end = readme.indexOf(`<!-- /${kind}:${name} -->`);
  if (begin < 0 || end < begin) return undefined;
  return readme.slice(begin, end).split('\n').filter((l) => /^\|\s*`/.test(l)).map((l) => {
    const cells = l.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim());
    const id = cells[0]!.replace(/^`|`$/g, '');
    return kind === 'inputs' ? `${id} = ${cells[1] ?? ''}` : id;
  });
}

/** What the table rows must be for one action.yml. */
function expectedRows(meta: ActionMeta, kind: 'inputs' | 'outputs'): string[] {
  if (kind === 'outputs') return Object.keys(meta.outputs ?? {});
  return Object.entries(meta.inputs ?? {}).map(([id, input]) => {
    const required = input?.required === true || input?.required === 'true';
    const fallback = input?.default;
    return `${id} = ${required ? 'required' : fallback === undefined || fallback === null || fallback === '' ? '' : `\`${String(fallback)}\``}`;
  });
}

const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');

describe('README.md', () => {
  it.each(actions().flatMap((a) => (['inputs', 'outputs'] as const).map((kind) => ({ ...a, kind }))))('lists exactly the $kind of $file', ({ name, file, kind }) => {
    const meta = parse(readFileSync(join(REPO_ROOT, file), 'utf8')) as ActionMeta;
    const rows = tableRows(readme, kind, name);
    expect(rows, `README.md has no ${kind} table for ${file} (<!-- ${kind}:${name} -->); ${FIX}`).toBeDefined();
    expect(rows, `README.md's ${kind} table for ${file} differs from it; ${FIX}`).toEqual(expectedRows(meta, kind));
  });

  it('has no table of an action that does not exist', () => {
    const known = new Set(actions().map((a) => a.name));
    const stale = [...readme.matchAll(/<!-- (?:inputs|outputs):([\w-]+) -->/g)].map((m) => m[1]!).filter((n) => !known.has(n));
    expect(stale, `README.md has tables of actions without an action.yml; ${FIX}`).toEqual([]);
  });

  it('is what scripts/readme-tables.mjs writes, descriptions included', () => {
    let failure = '';
    try {
      execFileSync(process.execPath, [join(REPO_ROOT, 'scripts/readme-tables.mjs'), '--check'], { cwd: REPO_ROOT, stdio: 'pipe' });
    } catch (err) {
      failure = String((err as { stderr?: Buffer }).stderr ?? err);
    }
    expect(failure, FIX).toBe('');
  });
});

describe('the table check', () => {
  const meta: ActionMeta = { inputs: { manifests: { required: true }, timeout: { default: '5m' }, app: {} }, outputs: { result: {} } };
  const readmeOf = (rows: string) => `<!-- inputs:x -->\n| input | default | description |\n| --- | --- | --- |\n${rows}\n<!-- /inputs:x -->`;

  it('accepts a table that matches, escaped pipes in descriptions included', () => {
    const rows = tableRows(readmeOf('| `manifests` | required | files \\| dirs |\n| `timeout` | `5m` | wait |\n| `app` |  | name |'), 'inputs', 'x');
    expect(rows).toEqual(expectedRows(meta, 'inputs'));
  });

  it('catches a missing input, a changed default and a missing table', () => {
    expect(tableRows(readmeOf('| `manifests` | required | files |\n| `timeout` | `2m` | wait |'), 'inputs', 'x')).not.toEqual(expectedRows(meta, 'inputs'));
    expect(tableRows(readmeOf(''), 'outputs', 'x')).toBeUndefined();
  });
});
