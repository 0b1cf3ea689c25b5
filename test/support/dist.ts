// Compares two dist/ trees file by file; the freshness test uses it to catch a
// committed bundle that no longer matches its sources.
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';

function files(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

export interface DistDifference {
  file: string;
  problem: 'missing from dist' | 'not produced by the sources' | 'content differs';
}

/** Differences between a fresh build (`expected`) and the committed tree (`actual`). */
export function diffDist(expected: string, actual: string): DistDifference[] {
  const want = files(expected);
  const have = new Set(files(actual));
  const diffs: DistDifference[] = [];
  for (const f of want) {
    if (!have.has(f)) diffs.push({ file: f, problem: 'missing from dist' });
    else if (!readFileSync(join(expected, f)).equals(readFileSync(join(actual, f)))) diffs.push({ file: f, problem: 'content differs' });
    have.delete(f);
  }
  for (const f of have) diffs.push({ file: f, problem: 'not produced by the sources' });
  return diffs;
}
