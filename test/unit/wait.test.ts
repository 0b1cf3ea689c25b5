import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../src/kube/client.js';
import { CONFIG_GRACE_MS, SANDBOX_GRACE_MS, UNSCHEDULABLE_GRACE_MS, assess, podFailure, waitForReady } from '../../src/kube/wait.js';
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

  it('gives CreateContainerConfigError a grace: kubelet\'s ConfigMap cache can lag a ConfigMap created a moment before the pod', () => {
    expect(podFailure(waiting('CreateContainerConfigError'))).toMatchObject({ reason: 'CreateContainerConfigError', graceMs: CONFIG_GRACE_MS });
    expect(CONFIG_GRACE_MS).toBeLessThan(30_000);
    expect(podFailure(waiting('ImagePullBackOff'))?.graceMs).toBeUndefined();
  });
  it.each([
    ['ContainerCreating', waiting('ContainerCreating')],
    ['one restart', pod({ containerStatuses: [{ name: 'app', restartCount: 1, state: { running: {} } }] })],
    ['a pending pod not yet scheduled', pod({ phase: 'Pending' })],
  ])('keeps waiting on %s', (_name, p) => {
    expect(podFailure(p)).toBeUndefined();
  });

  const withUid = (p: KubeObject): KubeObject => ({ ...p, metadata: { ...p.metadata, uid: 'pod-1' } });
  const event = (reason: string, message: string, uid = 'pod-1'): KubeObject => ({ apiVersion: 'v1', kind: 'Event', metadata: { name: `e-${reason}` }, type: 'Warning', reason, message, involvedObject: { kind: 'Pod', uid, fieldPath: 'spec.containers{app}' } } as KubeObject);
  it.each([
    ['a missing Secret to mount', 'FailedMount', 'MountVolume.SetUp failed for volume "creds" : secret "db-creds" not found', 'FailedMount', undefined],
    ['a missing ConfigMap to mount', 'FailedMount', 'MountVolume.SetUp failed for volume "cfg" : configmap "app-config" not found', 'FailedMount', undefined],
    ['a failed image pull, before the container status says so', 'Failed', 'Failed to pull image "x:v9": not found', 'ImagePullBackOff', undefined],
    ['a crash kubelet backs off from, before the status says CrashLoopBackOff', 'BackOff', 'Back-off restarting failed container app in pod web_shop', 'CrashLoopBackOff', undefined],
    ['a sandbox that cannot be created (after a grace)', 'FailedCreatePodSandBox', 'Failed to create pod sandbox: plugin type="bridge" failed', 'FailedCreatePodSandBox', SANDBOX_GRACE_MS],
  ])('reads the pod\'s events: %s', (_name, reason, message, expected, grace) => {
    const p = withUid(waiting('ContainerCreating'));
    const failure = podFailure(p, [p, event(reason, message)]);
    expect(failure?.reason).toBe(expected);
    expect(failure?.graceMs).toBe(grace);
    expect(failure?.message).toContain(message);
  });
  it('ignores a back-off once the container runs again', () => {
    const p = withUid(pod({ containerStatuses: [{ name: 'app', restartCount: 1, state: { running: {} } }] }));
    expect(podFailure(p, [p, event('BackOff', 'Back-off restarting failed container app in pod web_shop')])).toBeUndefined();
  });
  it('ignores events of other pods (an earlier revision\'s) and harmless ones', () => {
    const p = withUid(waiting('ContainerCreating'));
    expect(podFailure(p, [p, event('FailedMount', 'secret "x" not found', 'old-pod'), event('BackOff', 'Back-off restarting')])).toBeUndefined();
  });
  it('gives an unschedulable pod a grace, and none at all is a dead end while an autoscaler adds a node', () => {
    const p = withUid(pod({ conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/1 nodes: insufficient cpu' }] }));
    expect(podFailure(p, [p])).toMatchObject({ reason: 'Unschedulable', graceMs: UNSCHEDULABLE_GRACE_MS });
    expect(podFailure(p, [p, { ...event('TriggeredScaleUp', 'pod triggered scale-up'), type: 'Normal' } as KubeObject])).toBeUndefined();
  });
});

describe('assess', () => {
  const dep = (status: Record<string, unknown>, generation = 2, replicas = 3): KubeObject => ({ ...deployment('web', 'x'), metadata: { name: 'web', generation, uid: 'd1', annotations: { 'deployment.kubernetes.io/revision': '2' } }, spec: { replicas }, status } as KubeObject);
  const rs: KubeObject = { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'web-2', uid: 'rs2', ownerReferences: [{ uid: 'd1' }], annotations: { 'deployment.kubernetes.io/revision': '2' } } };
  const readyPod = (i: number, imageID = `x@sha256:${'b'.repeat(64)}`): KubeObject => ({
    apiVersion: 'v1', kind: 'Pod', metadata: { name: `web-2-${i}`, uid: `p${i}`, ownerReferences: [{ uid: 'rs2' }] },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }], containerStatuses: [{ name: 'app', ready: true, image: 'x', imageID }] },
  } as KubeObject);
  const pods = [rs, readyPod(0), readyPod(1), readyPod(2)];
  it.each([
    ['not observed yet', dep({ observedGeneration: 1 }), 'progressing', 0],
    ['2 of 3 updated', dep({ observedGeneration: 2, replicas: 3, updatedReplicas: 2, availableReplicas: 2 }), 'progressing', 2],
    ['old replicas still terminating', dep({ observedGeneration: 2, replicas: 4, updatedReplicas: 3, availableReplicas: 3 }), 'progressing', 3],
    ['all available', dep({ observedGeneration: 2, replicas: 3, updatedReplicas: 3, availableReplicas: 3 }), 'ready', 3],
    ['ProgressDeadlineExceeded', dep({ observedGeneration: 2, updatedReplicas: 1, conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'ReplicaSet "web-1" has timed out progressing.' }] }), 'failed', 0],
  ])('Deployment %s', (_name, d, state, ready) => {
    const a = assess(d, [d, ...pods]);
    expect(a.state).toBe(state);
    expect(a.ready).toBe(ready);
  });
  it('a Deployment whose status is ahead of the pods seen so far waits until they report the digests they run', () => {
    const d = dep({ observedGeneration: 2, replicas: 3, updatedReplicas: 3, availableReplicas: 3 });
    expect(assess(d, [d, rs, readyPod(0), readyPod(1)])).toMatchObject({ state: 'progressing', message: 'waiting for the pods to report the image digests they run' });
    expect(assess(d, [d, rs, readyPod(0), readyPod(1), readyPod(2, '')]).state).toBe('progressing');
  });
  it.each([
    ['StatefulSet rolling', { kind: 'StatefulSet', spec: { replicas: 2 }, status: { observedGeneration: 1, readyReplicas: 2, updatedReplicas: 1, currentRevision: 'a', updateRevision: 'b' } }, 'progressing'],
    ['StatefulSet done', { kind: 'StatefulSet', spec: { replicas: 0 }, status: { observedGeneration: 1, readyReplicas: 0, currentRevision: 'b', updateRevision: 'b' } }, 'ready'],
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
    const reporter = new MemoryReporter();
    const clock = new FakeClock().onSleep(() => cluster.tick());
    cluster.controller = () => undefined;
    const web = cluster.put(deployment('web', 'app:v1'));
    return { cluster, reporter, clock, web };
  }
  const opts = (clock: FakeClock, timeoutMs = 300_000) => ({ namespace: 'default', timeoutMs, pollMs: 1000, clock });

  it('lists and watches each kind once whatever the number of workloads, and shows progress with time left', async () => {
    const { cluster, reporter, clock } = setup();
    const more = Array.from({ length: 20 }, (_, i) => cluster.put(deployment(`w${i}`, 'app:v1')));
    let ticks = 0;
    cluster.controller = (c) => {
      // 4 lists, then 3 ticks of the clock.
      if (++ticks >= 7) c.markAllReady();
    };
    const outcome = await waitForReady(cluster, [cluster.get('Deployment', 'web')!, ...more], reporter, opts(clock, 60_000));
    expect(outcome.ready).toBe(true);
    expect(cluster.callsOf('list').map((c) => c.kind).sort()).toEqual(['Deployment', 'Event', 'Pod', 'ReplicaSet']);
    expect(cluster.callsOf('watch').map((c) => c.kind).sort()).toEqual(['Deployment', 'Event', 'Pod', 'ReplicaSet']);
    expect(reporter.lines).toContain('Deployment/web: 0/1 ready (waiting for the controller to see the new spec), 0 s, 60 s left');
    expect(reporter.lines).toContain('Deployment/web: 1/1 ready, 3 s');
    expect(cluster.openWatches).toBe(0);
  });

  it('fails fast on ImagePullBackOff with the pod events and last log lines', async () => {
    const { cluster, reporter, clock, web } = setup();
    cluster.controller = (c) => c.failingPod('web', { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "app@sha256:000"' } }, { event: { reason: 'Failed', message: 'Failed to pull image "app@sha256:000": not found' } });
    const outcome = await waitForReady(cluster, [web], reporter, opts(clock));
    expect(outcome.ready).toBe(false);
    if (outcome.ready) return;
    expect(outcome).toMatchObject({ timedOut: false, reason: 'ImagePullBackOff', object: 'Deployment/web' });
    expect(outcome.elapsedMs).toBe(0);
    expect(outcome.message).toContain('Deployment/web failed: pod web-rs1-abc: container app: ImagePullBackOff — Back-off pulling image');
    expect(outcome.message).toContain('Events of pod web-rs1-abc:\n  Warning Failed: Failed to pull image "app@sha256:000": not found');
    expect(outcome.message).toContain('Last log lines of container app:\n  listening on :8080');
  });

  it('fails on the event that arrives while it waits, without waiting for the next tick', async () => {
    const { cluster, reporter, web } = setup();
    cluster.controller = (c) => c.failingPod('web', { waiting: { reason: 'ContainerCreating' } });
    // A real clock with a long tick: only the watch can wake the wait in time.
    const waiting = waitForReady(cluster, [web], reporter, { namespace: 'default', timeoutMs: 60_000, pollMs: 60_000 });
    await new Promise((r) => setTimeout(r, 20));
    const started = Date.now();
    cluster.podEvent('web-rs1-abc', 'FailedMount', 'MountVolume.SetUp failed for volume "creds" : secret "db-creds" not found');
    const outcome = await waiting;
    expect(outcome).toMatchObject({ ready: false, reason: 'FailedMount' });
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('gives a sandbox failure its grace before calling it a dead end', async () => {
    const { cluster, reporter, clock, web } = setup();
    cluster.controller = (c) => c.failingPod('web', { waiting: { reason: 'ContainerCreating' } }, { event: { reason: 'FailedCreatePodSandBox', message: 'Failed to create pod sandbox: network not ready' } });
    const outcome = await waitForReady(cluster, [web], reporter, opts(clock));
    expect(outcome).toMatchObject({ ready: false, timedOut: false, reason: 'FailedCreatePodSandBox' });
    if (!outcome.ready) expect(outcome.elapsedMs).toBeGreaterThanOrEqual(SANDBOX_GRACE_MS);
    expect(reporter.lines.some((l) => /FailedCreatePodSandBox for 0 s, a dead end after 5 s/.test(l))).toBe(true);
  });

  it('a CreateContainerConfigError that persists fails after its grace, not before', async () => {
    const { cluster, reporter, clock, web } = setup();
    cluster.controller = (c) => c.failingPod('web', { waiting: { reason: 'CreateContainerConfigError', message: 'configmap "web-config" not found' } });
    const outcome = await waitForReady(cluster, [web], reporter, opts(clock));
    expect(outcome).toMatchObject({ ready: false, timedOut: false, reason: 'CreateContainerConfigError' });
    if (!outcome.ready) expect(outcome.elapsedMs).toBeGreaterThanOrEqual(CONFIG_GRACE_MS);
    expect(reporter.lines.some((l) => /CreateContainerConfigError for 0 s, a dead end after 15 s/.test(l))).toBe(true);
  });

  it('reads the previous run of a crash-looping container', async () => {
    const { cluster, reporter, clock, web } = setup();
    cluster.logText = 'panic: boom';
    cluster.controller = (c) => c.failingPod('web', { waiting: { reason: 'CrashLoopBackOff' } }, { restartCount: 1 });
    const outcome = await waitForReady(cluster, [web], reporter, opts(clock));
    expect(outcome.ready).toBe(false);
    expect(cluster.callsOf('logs')[0]!.previous).toBe(true);
    if (!outcome.ready) expect(outcome.message).toContain('(previous run):\n  panic: boom');
  });

  it('times out on a version that never gets ready, naming the object', async () => {
    const { cluster, reporter, clock, web } = setup();
    cluster.controller = (c) => c.failingPod('web', { running: {} });
    const outcome = await waitForReady(cluster, [web], reporter, opts(clock, 10_000));
    expect(outcome).toMatchObject({ ready: false, timedOut: true, reason: 'Timeout', object: 'Deployment/web' });
    if (!outcome.ready) expect(outcome.message).toMatch(/^Deployment\/web was not ready after 10 s: /);
  });

  it.each(['error', 'closed', 'gone'] as const)('misses no change when the watches end (%s) mid-wait', async (reason) => {
    const { cluster, reporter, web } = setup();
    const waiting = waitForReady(cluster, [web], reporter, { namespace: 'default', timeoutMs: 60_000, pollMs: 50 });
    await new Promise((r) => setTimeout(r, 20));
    cluster.dropWatches(reason);
    // The change happens while no watch is open: a resumed watch (or a new list) must still see it.
    cluster.controller = (c) => c.markAllReady();
    cluster.tick();
    const outcome = await waiting;
    expect(outcome.ready).toBe(true);
    // Resumed from the last resourceVersion, or (410 Gone) listed again.
    if (reason === 'gone') expect(cluster.callsOf('list').length).toBeGreaterThan(4);
    else expect(cluster.callsOf('watch').length).toBeGreaterThan(4);
  });

  it('does not touch the cluster when nothing is a workload', async () => {
    const { cluster, reporter, clock } = setup();
    const outcome = await waitForReady(cluster, [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } }], reporter, opts(clock, 1000));
    expect(outcome.ready).toBe(true);
    expect(cluster.calls).toEqual([]);
  });
});
