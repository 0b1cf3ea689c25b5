// The real gates and routers behind the strategies' hooks: checks/ measures and judges,
// traffic/ routes. Kept apart so the strategies see only the GateRunner and Router
// interfaces, and tests can hand them recording fakes instead.
import { runGates, startBackgroundGates } from '../checks/index.js';
import type { RouterKind } from '../config/progressive.js';
import type { KubeClient } from '../kube/client.js';
import type { Clock } from '../kube/wait.js';
import type { Reporter } from '../report/reporter.js';
import { routerFor } from '../traffic/index.js';
import type { Router } from '../traffic/router.js';
import type { GateRunner } from './progressive.js';

export function gateRunner(client: KubeClient, namespace: string, reporter: Reporter, clock?: Clock): GateRunner {
  return {
    run: (specs, services) => runGates(specs, { client, namespace, services, clock }, { reporter, clock }),
    background: (specs, services) => {
      const running = startBackgroundGates(specs, { client, namespace, services, clock }, { reporter, clock });
      return {
        failed: running.failed.then((v) => `gate ${v.gate}: ${v.message}`),
        stop: async () => (await running.stop()).verdicts,
      };
    },
  };
}

export function defaultProgressiveDeps(client: KubeClient, namespace: string, reporter: Reporter, clock?: Clock): { gates: GateRunner; routerFor: (progress: { router: RouterKind }) => Router } {
  return {
    gates: gateRunner(client, namespace, reporter, clock),
    routerFor: (progress) => routerFor(progress.router, { client, reporter }),
  };
}
