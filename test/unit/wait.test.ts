import { describe, expect, it } from 'vitest';
import { KubeObject, Kubectl } from '../../src/kube/kubectl.js';
import { assess, podFailure, waitForReady } from '../../src/kube/wait.js';
import { MemoryReporter } from '../../src/report/reporter.js';
import { FakeClock, FakeCluster, deployment } from '../fixtures/deploy/fake-cluster.js';

const pod = (status: Record<string, unknown>): KubeObject & { status: Record<string, unknown> } => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, status });
const waiting = (reason: string, restartCount = 0) => pod({ phase: 'Pending', containerStatuses: [{ name: 'app', restartCount, state: { waiting: { reason, message: 'detail' } } }] });

describe('podFailure', () => {
  it.each([
    ['ImagePullBackOff', waiting('ImagePullBackOff'), 'ImagePullBackOff'],
    ['ErrImagePull (reported as ImagePullBackOff)', waiting('ErrImagePull'), 'ImagePullBackOff'],
    ['CrashLoopBackOff', waiting('CrashLoopBackOff', 1), 'CrashLoopBackOff'],
    ['CreateContainerConfigError (missing Secret)', waiting('CreateContainerConfigError'), 'CreateContainerConfigError'],
    ['repeated restarts while Running', pod({ containerStatuses: [{ name: 'app', restartCount: 3, state: { running: {} }, lastState: { terminated: { reason: 'Error', exitCode: 1 } } }] }), 'CrashLoopBackOff'],
    ['an unschedulable pod', pod({ conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/1 nodes: insufficient cpu' }] }), 'Unschedulable'],
  ])('fails fast on %s', (_name, p, reason) => {
    expect(podFailure(p)?.reason).toBe(reason);
  });
  it.each([
    ['ContainerCreating', waiting('ContainerCreating')],
    ['one restart', pod({ containerStatuses: [{ name: 'app', restartCount: 1, state: { running: {} } }] })],
    ['a pending pod not yet scheduled', pod({ phase: 'Pending' })],
  ])('keeps waiting on %s', (_name, p) => {
    expect(podFailure(p)).toBeUndefined();
  });
});

describe('assess', () => {
  const dep = (status: Record<string, unknown>, generation = 2, replicas = 3): KubeObject => ({ ...deployment('web', 'x'), metadata: { name: 'web', generation, uid: 'd1' }, spec: { replicas }, status } as KubeObject);
  it.each([
    ['not observed yet', dep({ observedGeneration: 1 }), 'progressing', 0],
    ['2 of 3 updated', dep({ observedGeneration: 2, replicas: 3, updatedReplicas: 2, availableReplicas: 2 }), 'progressing', 2],
    ['old replicas still terminating', dep({ observedGeneration: 2, replicas: 4, updatedReplicas: 3, availableReplicas: 3 }), 'progressing', 3],
    ['all available', dep({ observedGeneration: 2, replicas: 3, updatedReplicas: 3, availableReplicas: 3 }), 'ready', 3],
    ['ProgressDeadlineExceeded', dep({ observedGeneration: 2, updatedReplicas: 1, conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'ReplicaSet "web-1" has timed out progressing.' }] }), 'failed', 0],
  ])('Deployment %s', (_name, d, state, ready) => {
    const a = assess(d, [d]);
    expect(a.state).toBe(state);
    expect(a.ready).toBe(ready);
  });
  it.each([
    ['StatefulSet rolling', { kind: 'StatefulSet', spec: { replicas: 2 }, status: { observedGeneration: 1, readyReplicas: 2, updatedReplicas: 1, currentRevision: 'a', updateRevision: 'b' } }, 'progressing'],
    ['StatefulSet done', { kind: 'StatefulSet', spec: { replicas: 2 }, status: { observedGeneration: 1, readyReplicas: 2, currentRevision: 'b', updateRevision: 'b' } }, 'ready'],
    ['DaemonSet updating', { kind: 'DaemonSet', spec: {}, status: { observedGeneration: 1, desiredNumberScheduled: 1, updatedNumberScheduled: 0, numberAvailable: 1 } }, 'progressing'],
    ['DaemonSet done', { kind: 'DaemonSet', spec: {}, status: { observedGeneration: 1, desiredNumberScheduled: 1, updatedNumberScheduled: 1, numberAvailable: 1 } }, 'ready'],
    ['Job complete', { kind: 'Job', spec: {}, status: { succeeded: 1, conditions: [{ type: 'Complete', status: 'True' }] } }, 'ready'],
    ['Job failed', { kind: 'Job', spec: {}, status: { conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded' }] } }, 'failed'],
  ])('%s', (_name, partial, state) => {
    const o = { apiVersion: 'apps/v1', metadata: { name: 'x', generation: 1, uid: 'u' }, ...partial } as KubeObject;
    expect(assess(o, [o]).state).toBe(state);
  });
  it('a bare Pod is ready when its Ready condition is true', () => {
    const p = { ...pod({ phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] }), metadata: { name: 'p' } };
    expect(assess(p, [p]).state).toBe('ready');
  });
});

describe('waitForReady', () => {
  function setup() {
    const cluster = new FakeCluster();
    const kubectl = new Kubectl({ runner: cluster });
    const reporter = new MemoryReporter();
    const clock = new FakeClock();
    const web = cluster.put(deployment('web', 'app:v1'));
    return { cluster, kubectl, reporter, clock, web };
  }

  it('makes one kubectl call per tick whatever the number of workloads, and shows progress with time left', async () => {
    const { cluster, kubectl, reporter, clock } = setup();
    const more = Array.from({ length: 20 }, (_, i) => cluster.put(deployment(`w${i}`, 'app:v1')));
    let ticks = 0;
    cluster.controller = (c) => {
      if (++ticks >= 3) c.markAllReady();
    };
    const outcome = await waitForReady(kubectl, [cluster.get('Deployment', 'web')!, ...more], reporter, { namespace: 'default', timeoutMs: 60_000, pollMs: 2000, clock });
    expect(outcome.ready).toBe(true);
    expect(kubectl.calls).toBe(3);
    expect(reporter.lines).toContain('Deployment/web: 0/1 ready (waiting for the controller to see the new spec), 0 s, 60 s left');
    expect(reporter.lines).toContain('Deployment/web: 1/1 ready, 4 s');
  });

  it('fails fast on ImagePullBackOff with the pod events and last log lines', async () => {
    const { cluster, kubectl, reporter, clock, web } = setup();
    cluster.controller = (c) => c.failingPod('web', { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "app@sha256:000"' } });
    const outcome = await waitForReady(kubectl, [web], reporter, { namespace: 'default', timeoutMs: 300_000, clock });
    expect(outcome.ready).toBe(false);
    if (outcome.ready) return;
    expect(outcome).toMatchObject({ timedOut: false, reason: 'ImagePullBackOff', object: 'Deployment/web' });
    expect(outcome.elapsedMs).toBe(0);
    expect(outcome.message).toContain('Deployment/web failed: pod web-rs1-abc: container app: ImagePullBackOff — Back-off pulling image');
    expect(outcome.message).toContain('Events of pod web-rs1-abc:\n  Warning Failed: Failed to pull image: not found');
    expect(outcome.message).toContain('Last log lines of container app:\n  listening on :8080');
  });

  it('reads the previous run of a crash-looping container', async () => {
    const { cluster, kubectl, reporter, clock, web } = setup();
    cluster.logs = 'panic: boom';
    cluster.controller = (c) => c.failingPod('web', { waiting: { reason: 'CrashLoopBackOff' } }, { restartCount: 1 });
    const outcome = await waitForReady(kubectl, [web], reporter, { namespace: 'default', timeoutMs: 300_000, clock });
    expect(outcome.ready).toBe(false);
    expect(cluster.callsOf('logs')[0]!.args).toContain('--previous');
    if (!outcome.ready) expect(outcome.message).toContain('(previous run):\n  panic: boom');
  });

  it('times out on a version that never gets ready, naming the object', async () => {
    const { cluster, kubectl, reporter, clock, web } = setup();
    cluster.controller = (c) => c.failingPod('web', { running: {} });
    const outcome = await waitForReady(kubectl, [web], reporter, { namespace: 'default', timeoutMs: 10_000, pollMs: 2000, clock });
    expect(outcome).toMatchObject({ ready: false, timedOut: true, reason: 'Timeout', object: 'Deployment/web' });
    if (!outcome.ready) expect(outcome.message).toMatch(/^Deployment\/web was not ready after 10 s: /);
  });

  it('does not poll at all when nothing is a workload', async () => {
    const { kubectl, reporter, clock } = setup();
    const outcome = await waitForReady(kubectl, [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } }], reporter, { namespace: 'default', timeoutMs: 1000, clock });
    expect(outcome.ready).toBe(true);
    expect(kubectl.calls).toBe(0);
  });
});
