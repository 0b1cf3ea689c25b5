// The summary's first line names the gate and what it measured, not the run loop's
// bookkeeping; the full reason stays below it.
import { describe, expect, it } from 'vitest';
import { gist, headline } from '../../src/report/headline.js';
import type { RolloutOutcome } from '../../src/strategies/basic.js';

const rolledBack = (reason: string): RolloutOutcome => ({ result: 'rolled-back', reason, changed: [], timings: { totalMs: 1 } } as unknown as RolloutOutcome);

describe('headline of a failed gate', () => {
  it.each([
    [
      'step 2/2 analysis failed: gate judge: 1 failed measurement, failure-limit 0: score 0/100, mean latency: canary 80.51 ms vs stable 20.31 ms (U p=1e-4, ×4.0) → fail (8 samples per side in 24s, power 0.99)',
      'judge: mean latency: canary 80.51 ms vs stable 20.31 ms (U p=1e-4, ×4.0)',
    ],
    [
      'background analysis failed: gate error rate: 1 failed measurement, failure-limit 0: result 0.05: result <= 0.01 does not hold',
      'error rate: result 0.05: result <= 0.01 does not hold',
    ],
    [
      'background analysis failed: gate up: 5 errors in a row, consecutive-error-limit 4: cannot reach http://127.0.0.1:9: ECONNREFUSED',
      'up: cannot reach http://127.0.0.1:9: ECONNREFUSED',
    ],
    ['Deployment/web failed: CrashLoopBackOff', 'Deployment/web failed: CrashLoopBackOff'],
  ])('%s', (reason, expected) => {
    expect(gist(reason)).toBe(expected);
    expect(headline(rolledBack(reason), { namespace: 'shop', app: 'web' })).toBe(`Rolled back: ${expected}`);
  });
});
