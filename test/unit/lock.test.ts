import { describe, expect, it } from 'vitest';
import { DeployLock } from '../../src/kube/lock.js';
import { FakeClock, FakeCluster } from '../fixtures/deploy/fake-cluster.js';

const target = { namespace: 'default', app: 'web' };
function setup() {
  const cluster = new FakeCluster();
  const clock = new FakeClock();
  const lock = (id: string) => new DeployLock(cluster, target, { id, runUrl: `https://github.com/o/r/actions/runs/${id}` }, 60_000, clock);
  return { cluster, clock, lock };
}

describe('DeployLock', () => {
  it('refuses a second holder and names the first one\'s run URL', async () => {
    const { lock } = setup();
    expect(await lock('1').acquire()).toBe('taken');
    await expect(lock('2').acquire()).rejects.toThrow(/default\/web is being deployed by another run: https:\/\/github.com\/o\/r\/actions\/runs\/1/);
  });

  it('lets a stale lock expire and be taken over', async () => {
    const { lock, clock, cluster } = setup();
    await lock('1').acquire();
    clock.t += 61_000;
    expect(await lock('2').acquire()).toBe('took-over-stale');
    expect(cluster.get('Lease', 'gantry-web')!.spec).toMatchObject({ holderIdentity: '2' });
  });

  it('stays fresh while its holder renews it', async () => {
    const { lock, clock } = setup();
    const first = lock('1');
    await first.acquire();
    for (let i = 0; i < 4; i++) {
      clock.t += 25_000;
      await first.renew();
    }
    await expect(lock('2').acquire()).rejects.toThrow(/being deployed by another run/);
  });

  it('is re-entrant for the same run (a post step, a re-run attempt) and released at the end', async () => {
    const { lock, cluster } = setup();
    await lock('1').acquire();
    const again = lock('1');
    expect(await again.acquire()).toBe('reclaimed');
    await again.release();
    expect(cluster.get('Lease', 'gantry-web')).toBeUndefined();
    expect(await lock('2').acquire()).toBe('taken');
  });
});
