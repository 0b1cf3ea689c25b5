// The deploy lock: one coordination.k8s.io Lease per target (namespace + app). Creating
// the Lease is the atomic "take"; a holder renews it while it works, and a Lease
// nobody renewed for its whole duration is stale and may be taken over.
import { GantryError } from '../errors.js';
import type { Holder, Target } from '../shared/target.js';
import { KubeClient, KubeObject } from './client.js';
import { Clock, formatSeconds, systemClock } from './wait.js';

export const RUN_URL_ANNOTATION = 'gantry.dev/run-url';

interface Lease extends KubeObject {
  spec: { holderIdentity?: string; leaseDurationSeconds?: number; acquireTime?: string; renewTime?: string };
}

export function leaseName(target: Target): string {
  return `gantry-${target.app}`;
}

/** Kubernetes MicroTime wants microseconds. */
function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, '000Z');
}

export class LockHeldError extends GantryError {
  constructor(readonly target: Target, readonly holderId: string, readonly holderUrl: string, expiresInMs: number) {
    super(`${target.namespace}/${target.app} is being deployed by another run: ${holderUrl || holderId}`, {
      title: 'Deploy in progress',
      hint: `Wait for that run to finish, or cancel it. If it died, its lock expires in ${formatSeconds(expiresInMs)}.`,
    });
  }
}

export class DeployLock {
  private held = false;
  private lastRenew = 0;
  constructor(
    private readonly client: KubeClient,
    readonly target: Target,
    readonly holder: Holder,
    private readonly ttlMs: number,
    private readonly clock: Clock = systemClock,
  ) {}

  private lease(renewMs: number, acquireMs: number, resourceVersion?: string): Lease {
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name: leaseName(this.target),
        namespace: this.target.namespace,
        labels: { 'app.kubernetes.io/managed-by': 'gantry', 'gantry.dev/app': this.target.app },
        annotations: { [RUN_URL_ANNOTATION]: this.holder.runUrl },
        ...(resourceVersion ? { resourceVersion } : {}),
      },
      spec: {
        holderIdentity: this.holder.id,
        leaseDurationSeconds: Math.max(1, Math.ceil(this.ttlMs / 1000)),
        acquireTime: microTime(acquireMs),
        renewTime: microTime(renewMs),
      },
    };
  }

  /** Takes the lock or throws LockHeldError naming the holder. Re-entrant for the same holder (a post step, a re-run attempt). */
  async acquire(): Promise<'taken' | 'reclaimed' | 'took-over-stale'> {
    const now = this.clock.now();
    const created = await this.client.create([this.lease(now, now)]);
    if (created.ok) {
      this.held = true;
      this.lastRenew = now;
      return 'taken';
    }
    if (!created.problems.some((p) => p.reason === 'AlreadyExists')) {
      throw new GantryError(`Could not create the deploy lock (Lease ${leaseName(this.target)}) in namespace ${this.target.namespace}: ${created.problems.map((p) => p.message).join('; ')}`, {
        title: 'Lock failed',
        hint: 'Check that the namespace exists and that the credentials may create coordination.k8s.io Leases there.',
      });
    }
    const current = await this.client.get<Lease>(this.ref());
    if (!current) return this.acquire(); // released between our create and get
    const holderId = current.spec.holderIdentity ?? '';
    const renewed = Date.parse(current.spec.renewTime ?? current.spec.acquireTime ?? '') || 0;
    const expiresAt = renewed + (current.spec.leaseDurationSeconds ?? 0) * 1000;
    const mine = holderId === this.holder.id;
    if (!mine && expiresAt > now) {
      throw new LockHeldError(this.target, holderId, current.metadata.annotations?.[RUN_URL_ANNOTATION] ?? '', expiresAt - now);
    }
    // Replace with the resourceVersion we read: if two runs race for a stale lock, only one update succeeds.
    const replaced = await this.client.replace([this.lease(now, mine ? Date.parse(current.spec.acquireTime ?? '') || now : now, current.metadata.resourceVersion as string)]);
    if (!replaced.ok) {
      throw new LockHeldError(this.target, holderId, current.metadata.annotations?.[RUN_URL_ANNOTATION] ?? '', 0);
    }
    this.held = true;
    this.lastRenew = now;
    return mine ? 'reclaimed' : 'took-over-stale';
  }

  /** Extends the lease; called from the wait loop. Renewing at most every third of the TTL keeps calls low. */
  async renew(): Promise<void> {
    if (!this.held) return;
    const now = this.clock.now();
    if (now - this.lastRenew < this.ttlMs / 3) return;
    this.lastRenew = now;
    await this.client.apply([{ ...this.ref(), spec: { renewTime: microTime(now), holderIdentity: this.holder.id } }], { fieldManager: 'gantry-lock' });
  }

  async release(): Promise<void> {
    if (!this.held) return;
    this.held = false;
    await this.client.delete([this.ref()]);
  }

  private ref(): KubeObject {
    return { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: leaseName(this.target), namespace: this.target.namespace } };
  }
}
