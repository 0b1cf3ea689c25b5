// The judge's statistics on synthetic samples: the U test against known values, the
// false-failure rate of identical versions and the power against a 2× latency shift over
// 200 seeded trials each, the sample sizes the adaptive look waits for, and the verdicts
// it gives: fail with the numbers, pass with enough power, inconclusive without data.
import { describe, expect, it } from 'vitest';
import { judge, judgeMetric, type Samples } from '../../src/checks/judge.js';
import { parseJudge } from '../../src/checks/spec/judge.js';
import { Fields, type GateSpecError } from '../../src/checks/spec/fields.js';
import type { JudgeCheckSpec, JudgeMetric } from '../../src/checks/spec/judge.js';
import { achievedPower, effectIndex, mannWhitney, ratioOfMeans, requiredPerSide } from '../../src/checks/stats.js';

/** mulberry32: a small seeded generator, so every run draws the same samples. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Latency-like samples: log-normal around `median` ms. */
function latencies(random: () => number, n: number, median: number, sigma = 0.4): number[] {
  return Array.from({ length: n }, () => {
    const z = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    return median * Math.exp(sigma * z);
  });
}

const latency: JudgeMetric = { name: 'p95 latency', query: 'q{pod=~"{{pods}}"}', direction: 'increase', effect: 1.2, weight: 1, critical: true, unit: 'ms' };

function spec(overrides: Partial<JudgeCheckSpec> = {}): JudgeCheckSpec {
  const errors: GateSpecError[] = [];
  const parsed = parseJudge(new Fields({ metrics: [{ name: 'p95 latency', query: 'q{pod=~"{{pods}}"}', critical: true, unit: 'ms' }] }, 'judge', errors));
  expect(errors).toEqual([]);
  return { ...parsed!, ...overrides };
}

describe('the Mann-Whitney U test', () => {
  it('matches a hand-worked example: U counts the pairs the canary wins, ties half', () => {
    // canary [3, 4, 5] vs stable [1, 2, 3]: wins 3>1,3>2, 3=3 (½), 4>all, 5>all → U = 2.5 + 3 + 3 = 8.5
    const t = mannWhitney([3, 4, 5], [1, 2, 3], 'increase');
    expect(t.u).toBe(8.5);
    expect(t.index).toBeCloseTo(8.5 / 9);
  });

  it('gives p near 0 for separated samples in the bad direction, near 1 the other way, and 1 for identical values', () => {
    const high = Array.from({ length: 20 }, (_, i) => 100 + i);
    const low = Array.from({ length: 20 }, (_, i) => 10 + i);
    expect(mannWhitney(high, low, 'increase').p).toBeLessThan(1e-6);
    expect(mannWhitney(high, low, 'decrease').p).toBeGreaterThan(0.999);
    expect(mannWhitney(high, low, 'either').p).toBeLessThan(1e-6);
    expect(mannWhitney([5, 5, 5], [5, 5, 5], 'either').p).toBe(1);
  });

  it('ratio of means handles zeros without dividing by them', () => {
    expect(ratioOfMeans([2, 2], [1, 1])).toBe(2);
    expect(ratioOfMeans([0, 0], [0, 0])).toBe(1);
    expect(ratioOfMeans([1, 0], [0, 0])).toBe(Infinity);
  });
});

describe('sample sizes (Noether) and power', () => {
  it('a bigger effect, or less spread, needs fewer samples; power grows with them', () => {
    const random = rng(7);
    const stable = latencies(random, 200, 50);
    const small = requiredPerSide(effectIndex(stable, 1.2), 0.05, 0.8, 'increase');
    const large = requiredPerSide(effectIndex(stable, 2), 0.05, 0.8, 'increase');
    expect(large).toBeLessThan(small);
    expect(requiredPerSide(effectIndex(latencies(random, 200, 50, 0.1), 1.2), 0.05, 0.8, 'increase')).toBeLessThan(small);
    const idx = effectIndex(stable, 1.2);
    expect(achievedPower(idx, small, small, 0.05, 'increase')).toBeGreaterThanOrEqual(0.8);
    expect(achievedPower(idx, Math.floor(small / 3), Math.floor(small / 3), 0.05, 'increase')).toBeLessThan(0.8);
  });

  it('a constant stable of 0 gives no effect to look for: unboundedly many samples', () => {
    expect(requiredPerSide(effectIndex([0, 0, 0, 0], 1.2), 0.05, 0.8, 'increase')).toBe(Infinity);
  });
});

describe('the judge over 200 seeded trials of 50 samples per side', () => {
  const trials = 200;
  /** The judge's failure rate, and how often the U test alone was significant. */
  const run = (canaryMedian: number, seed: number): { rate: number; significant: number } => {
    const random = rng(seed);
    let failed = 0;
    let significant = 0;
    for (let i = 0; i < trials; i++) {
      const samples: Samples = { canary: latencies(random, 50, canaryMedian), stable: latencies(random, 50, 50) };
      const m = judgeMetric(latency, samples, spec());
      if (m.state === 'fail') failed++;
      if ((m.p ?? 1) < 0.05) significant++;
    }
    return { rate: failed / trials, significant: significant / trials };
  };

  it('fails identical versions (A/A) in at most 5 % of trials', () => {
    const { rate, significant } = run(50, 1);
    console.log(`judge A/A false failures: ${(rate * 100).toFixed(1)} % of ${trials} (U test alone significant in ${(significant * 100).toFixed(1)} %; the effect bound holds back the rest)`);
    expect(rate).toBeLessThanOrEqual(0.05);
    // The test itself is calibrated: about alpha of identical pairs come out significant.
    expect(significant).toBeLessThanOrEqual(0.1);
  });

  it('catches a 2× latency shift in at least 95 % of trials', () => {
    const { rate } = run(100, 2);
    console.log(`judge power against 2× latency: ${(rate * 100).toFixed(1)} % of ${trials}`);
    expect(rate).toBeGreaterThanOrEqual(0.95);
  });
});

describe('verdicts', () => {
  it('a failing critical metric fails the judge with score 0 and a line giving both means, p and the ratio', () => {
    const random = rng(3);
    const j = judge(spec(), new Map([['p95 latency', { canary: latencies(random, 30, 212, 0.1), stable: latencies(random, 30, 48, 0.1) }]]));
    expect(j.status).toBe('fail');
    expect(j.score).toBe(0);
    expect(j.certain).toBe(true);
    expect(j.metrics[0]!.line).toMatch(/^p95 latency: canary 2\d\d(\.\d+)? ms vs stable 4\d(\.\d+)? ms \(U p=[0-9.e-]+, ×4\.\d\) → fail$/);
  });

  it('a good version passes once it has the samples its power needs, and waits before', () => {
    const random = rng(4);
    const stable = latencies(random, 60, 50, 0.2);
    const canary = latencies(random, 60, 50, 0.2);
    const few = judge(spec(), new Map([['p95 latency', { canary: canary.slice(0, 8), stable: stable.slice(0, 8) }]]));
    expect(few.status).toBe('inconclusive');
    expect(few.decided).toBe(false);
    expect(few.metrics[0]!.line).toMatch(/needs \d+ samples per side \(power 0\.\d\d of 0\.8\)/);
    const enough = judge(spec(), new Map([['p95 latency', { canary, stable }]]));
    expect(enough.status).toBe('pass');
    expect(enough.score).toBe(100);
    expect(enough.metrics[0]!.power).toBeGreaterThanOrEqual(0.8);
  });

  it('no samples, or NaN samples only, are never a pass', () => {
    const j = judge(spec(), new Map([['p95 latency', { canary: [NaN, NaN, NaN, NaN, NaN, NaN, NaN, NaN], stable: [] }]]));
    expect(j.status).toBe('inconclusive');
    expect(j.metrics[0]!.line).toContain('0 canary and 0 stable samples');
  });

  it('weighs metrics into a score: a non-critical failure below the marginal threshold fails, above it is inconclusive', () => {
    const random = rng(5);
    const errors: JudgeMetric = { ...latency, name: 'error rate', critical: false, weight: 1, unit: '' };
    const two = spec({ metrics: [{ ...latency, critical: false, weight: 3 }, errors] });
    const samples = new Map<string, Samples>([
      ['p95 latency', { canary: latencies(random, 40, 50, 0.05), stable: latencies(random, 40, 50, 0.05) }],
      ['error rate', { canary: latencies(random, 40, 0.05, 0.05), stable: latencies(random, 40, 0.01, 0.05) }],
    ]);
    const j = judge(two, samples);
    expect(j.score).toBe(75);
    expect(j.status).toBe('inconclusive'); // marginal: 75 ≥ 75 but < 90
    expect(judge({ ...two, marginalScore: 80 }, samples).status).toBe('fail');
  });
});

describe('parseJudge', () => {
  const parse = (value: Record<string, unknown>): { spec?: JudgeCheckSpec; errors: string[] } => {
    const errors: GateSpecError[] = [];
    const parsed = parseJudge(new Fields(value, 'steps[1].analysis[0].judge', errors));
    return { spec: parsed, errors: errors.map((e) => e.message) };
  };

  it('fills in the documented defaults: auto between 30 s and 5 m, alpha 0.05, power 0.8', () => {
    const { spec, errors } = parse({ metrics: [{ name: 'p95', query: 'x{pod=~"{{pods}}"}' }] });
    expect(errors).toEqual([]);
    expect(spec).toMatchObject({ minMs: 30_000, maxMs: 300_000, alpha: 0.05, power: 0.8, passScore: 90, marginalScore: 75, metrics: [{ direction: 'increase', effect: 1.2, weight: 1, critical: false }] });
    expect(spec!.durationMs).toBeUndefined();
  });

  it('names every bad field by its YAML path', () => {
    const { errors } = parse({ metrics: [{ name: 'p95', query: 'x{pod=~"{{pod}}"}', direction: 'up' }, { query: 'y' }], duration: '2m', min: '10s', alpha: 2 });
    expect(errors).toEqual(expect.arrayContaining([
      expect.stringMatching(/^steps\[1\]\.analysis\[0\]\.judge\.metrics\[0\]\.query: uses \{\{pod\}\}/),
      expect.stringMatching(/^steps\[1\]\.analysis\[0\]\.judge\.metrics\[0\]\.direction: must be increase, decrease or either/),
      expect.stringMatching(/^steps\[1\]\.analysis\[0\]\.judge\.metrics\[1\]\.name: is required/),
      expect.stringMatching(/^steps\[1\]\.analysis\[0\]\.judge\.metrics\[1\]\.query: does not use \{\{pods\}\}/),
      expect.stringMatching(/^steps\[1\]\.analysis\[0\]\.judge\.min: only goes with duration: auto/),
      expect.stringMatching(/^steps\[1\]\.analysis\[0\]\.judge\.alpha: must be a number between 0 and 0\.5/),
    ]));
  });
});
