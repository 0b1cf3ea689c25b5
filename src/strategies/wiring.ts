// The real gates and routers behind the strategies' hooks: checks/ measures and judges,
// traffic/ routes. Kept apart so the strategies see only the GateRunner and Router
// interfaces, and tests can hand them recording fakes instead.
import { runGates, startBackgroundGates } from '../checks/index.js';
import type { GateContext, PrometheusEndpoint } from '../checks/gate.js';
import type { RouterKind } from '../config/progressive.js';
import type { KubeClient } from '../kube/client.js';
import type { Clock } from '../kube/wait.js';
import type { Reporter } from '../report/reporter.js';
import { routerFor } from '../traffic/index.js';
import type { Router } from '../traffic/router.js';
import type { GateRunner, GateSides } from './progressive.js';

/** What gates need beyond the cluster: where Prometheus is, and where the command gate runs. */
export interface GateSettings {
  prometheus?: PrometheusEndpoint;
  workspace?: string;
}

export function gateRunner(client: KubeClient, namespace: string, reporter: Reporter, clock?: Clock, settings: GateSettings = {}): GateRunner {
  const context = (sides: GateSides): GateContext => ({ client, namespace, clock, ...sides, ...settings });
  return {
    run: (specs, sides, signal) => runGates(specs, context(sides), { reporter, clock, signal }),
    background: (specs, sides) => {
      const running = startBackgroundGates(specs, context(sides), { reporter, clock });
      return {
        failed: running.failed.then((f) => f.reason),
        stop: async () => (await running.stop()).verdicts,
      };
    },
  };
}

export function defaultProgressiveDeps(client: KubeClient, namespace: string, reporter: Reporter, clock?: Clock, settings: GateSettings = {}): { gates: GateRunner; routerFor: (progress: { router: RouterKind }) => Router } {
  return {
    gates: gateRunner(client, namespace, reporter, clock, settings),
    routerFor: (progress) => routerFor(progress.router, { client, reporter }),
  };
}
