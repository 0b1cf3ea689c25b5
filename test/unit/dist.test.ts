import { execFileSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diffDist } from '../support/dist.js';
import { REPO_ROOT } from '../support/bundle.js';

// One fresh build of every entry point, shared by the tests below.
let fresh: string;
beforeAll(() => {
  fresh = mkdtempSync(join(tmpdir(), 'gantry-dist-'));
  execFileSync(process.execPath, [join(REPO_ROOT, 'scripts/build.mjs'), '--out', fresh], { cwd: REPO_ROOT, stdio: 'pipe' });
}, 120_000);
afterAll(() => rmSync(fresh, { recursive: true, force: true }));

describe('dist/', () => {
  it('matches a fresh build of src/ (run `npm run build` and commit dist/ if this fails)', () => {
    const diffs = diffDist(fresh, join(REPO_ROOT, 'dist'));
    expect(diffs, diffs.map((d) => `${d.file}: ${d.problem}`).join('\n')).toEqual([]);
  });

  it('has one bundle per entry point in src/entry', () => {
    const entries = readdirSync(join(REPO_ROOT, 'src/entry')).filter((f) => f.endsWith('.ts')).map((f) => f.replace(/\.ts$/, ''));
    expect(readdirSync(fresh).filter((f) => f !== 'package.json').sort()).toEqual(entries.sort());
  });

  it('the freshness check catches a stale bundle, a missing one and a leftover one', () => {
    const stale = mkdtempSync(join(tmpdir(), 'gantry-stale-'));
    try {
      cpSync(fresh, stale, { recursive: true });
      const [first, second] = readdirSync(fresh).filter((f) => f !== 'package.json').sort();
      appendFileSync(join(stale, first!, 'index.js'), '\n// edited by hand\n');
      if (second) rmSync(join(stale, second), { recursive: true });
      cpSync(join(fresh, first!), join(stale, 'removed-action'), { recursive: true });
      const diffs = diffDist(fresh, stale);
      expect(diffs).toContainEqual({ file: `${first}/index.js`, problem: 'content differs' });
      if (second) expect(diffs).toContainEqual({ file: `${second}/index.js`, problem: 'missing from dist' });
      expect(diffs).toContainEqual({ file: 'removed-action/index.js', problem: 'not produced by the sources' });
    } finally {
      rmSync(stale, { recursive: true, force: true });
    }
  });
});
