// Waiting on a condition of a few objects, from a watch: the one loop behind "until the
// CRDs are Established", "until the Service lists these pods", "until the route is accepted".
import type { KubeClient, KubeObject } from './client.js';
import { Informer, WatchSpec } from './informer.js';
import { Clock, sleepUnless, systemClock } from './wait.js';

/**
 * Watches `spec` until `pending(items)` says nothing is pending (returns undefined), or
 * `timeoutMs` passes; then returns what was still pending (undefined when it came true).
 * Short sleeps between changes: a long pending timer would keep a finished process alive.
 */
export async function watchUntil(
  client: KubeClient, spec: WatchSpec, pending: (items: KubeObject[]) => string | undefined, timeoutMs: number,
  options: { clock?: Clock; onNotice?: (message: string) => void } = {},
): Promise<string | undefined> {
  const clock = options.clock ?? systemClock;
  const informer = new Informer(client, [spec], { onNotice: options.onNotice });
  await informer.start();
  try {
    const started = clock.now();
    for (;;) {
      const changes = informer.changes;
      const awaited = pending(informer.items());
      if (awaited === undefined) return undefined;
      const left = timeoutMs - (clock.now() - started);
      if (left <= 0) return awaited;
      if (informer.changes === changes) await sleepUnless(clock, Math.min(1000, left), informer.changed());
    }
  } finally {
    informer.stop();
  }
}
