// The judge's statistics, pure and separately tested: the Mann-Whitney U test, how big an
// effect is, and how many samples it takes to see one. The distributions (the normal CDF
// and quantile) and the ranking with ties come from @stdlib; what is written here is the
// arithmetic of the test itself (U from rank sums, the tie-corrected variance, Noether's
// sample size), which no maintained npm package offers as a whole: the Mann-Whitney
// packages on npm are unmaintained one-offs without tie correction or one-sided tests.
import normalCdf from '@stdlib/stats-base-dists-normal-cdf';
import normalQuantile from '@stdlib/stats-base-dists-normal-quantile';
import ranks from '@stdlib/stats-ranks';

/** Which way a metric gets worse: latency and errors `increase`, throughput `decrease`; `either` for both. */
export type Direction = 'increase' | 'decrease' | 'either';

export interface UTest {
  /** U of the canary: how many (canary, stable) pairs the canary wins, ties counting half. */
  u: number;
  /** The p-value in the metric's bad direction (two-sided for `either`). */
  p: number;
  /** U / (n1·n2): the estimated probability that a canary sample exceeds a stable one. */
  index: number;
}

const phi = (z: number): number => normalCdf(z, 0, 1);
const z = (p: number): number => normalQuantile(p, 0, 1);

/**
 * The Mann-Whitney U test of canary against stable, with the normal approximation, the
 * variance corrected for ties and a continuity correction. Samples must be finite numbers.
 */
export function mannWhitney(canary: number[], stable: number[], direction: Direction): UTest {
  const n1 = canary.length;
  const n2 = stable.length;
  if (n1 === 0 || n2 === 0) return { u: NaN, p: NaN, index: NaN };
  const r = ranks([...canary, ...stable]) as number[];
  let rankSum = 0;
  for (let i = 0; i < n1; i++) rankSum += r[i]!;
  const u = rankSum - (n1 * (n1 + 1)) / 2;
  const n = n1 + n2;
  const mean = (n1 * n2) / 2;
  // Ties shrink the variance: Σ(t³ − t) over groups of t equal values.
  const counts = new Map<number, number>();
  for (const v of [...canary, ...stable]) counts.set(v, (counts.get(v) ?? 0) + 1);
  let ties = 0;
  for (const t of counts.values()) ties += t * t * t - t;
  const variance = ((n1 * n2) / 12) * (n + 1 - ties / (n * (n - 1)));
  const index = u / (n1 * n2);
  if (variance <= 0) return { u, p: 1, index }; // every value equal: no evidence of any difference
  const sd = Math.sqrt(variance);
  const upper = 1 - phi((u - mean - 0.5) / sd); // canary larger
  const lower = phi((u - mean + 0.5) / sd); // canary smaller
  const p = direction === 'increase' ? upper : direction === 'decrease' ? lower : Math.min(1, 2 * Math.min(upper, lower));
  return { u, p: Math.min(1, Math.max(0, p)), index };
}

export const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** canary mean / stable mean; 1 when both are 0, Infinity when only stable's is. */
export function ratioOfMeans(canary: number[], stable: number[]): number {
  const c = mean(canary);
  const s = mean(stable);
  if (s === 0) return c === 0 ? 1 : c > 0 ? Infinity : -Infinity;
  return c / s;
}

/**
 * The probability index P(X·effect > Y) of the effect the judge is asked to see, estimated
 * from the stable samples alone (all pairs i ≠ j, ties half): how distinguishable a canary
 * `effect` times worse would be, given how much stable varies. 0.5 means not at all.
 */
export function effectIndex(stable: number[], effect: number): number {
  const n = stable.length;
  if (n < 2) return 0.5;
  let wins = 0;
  for (let i = 0; i < n; i++) {
    const shifted = stable[i]! * effect;
    for (let j = 0; j < n; j++) {
      if (i === j) continue;
      const y = stable[j]!;
      wins += shifted > y ? 1 : shifted === y ? 0.5 : 0;
    }
  }
  return wins / (n * (n - 1));
}

/** The level of each tail: one-sided for a direction, split in two for `either`. */
const tail = (alpha: number, direction: Direction): number => (direction === 'either' ? alpha / 2 : alpha);

/**
 * Samples per side needed to detect an effect of probability index `index` with the test
 * at level `alpha` and the given power: Noether's formula for equal sides,
 * N = (z₁₋α + z_power)² / (12·c(1−c)·(index − ½)²) with c = ½, halved per side.
 */
export function requiredPerSide(index: number, alpha: number, power: number, direction: Direction): number {
  const d = Math.abs(index - 0.5);
  if (d < 1e-9) return Infinity;
  const total = (z(1 - tail(alpha, direction)) + z(power)) ** 2 / (3 * d * d);
  return Math.ceil(total / 2);
}

/** The power reached with n1 and n2 samples, by the same approximation solved for the power. */
export function achievedPower(index: number, n1: number, n2: number, alpha: number, direction: Direction): number {
  const d = Math.abs(index - 0.5);
  if (n1 === 0 || n2 === 0) return 0;
  return phi(Math.sqrt((12 * n1 * n2) / (n1 + n2)) * d - z(1 - tail(alpha, direction)));
}
