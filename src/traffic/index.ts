// The one place that picks a traffic router. A new router (NGINX ingress canary
// annotations, Istio VirtualService, SMI TrafficSplit) is one file beside these and one
// case here; the strategies only ever see the Router interface.
import type { RouterKind } from '../config/progressive.js';
import { GatewayRouter, type GatewayRouterOptions } from './gateway-httproute.js';
import { ReplicaRatioRouter } from './replica-ratio.js';
import type { Router, RouterContext } from './router.js';

export type { AppliedWeight, Router, RouterContext, RouteTarget } from './router.js';

/** Settings of the routers that have any; a router ignores the others. */
export type RouterOptions = GatewayRouterOptions;

export function routerFor(kind: RouterKind, ctx: RouterContext, options: RouterOptions = {}): Router {
  switch (kind) {
    case 'replica-ratio':
      return new ReplicaRatioRouter(ctx);
    case 'gateway-httproute':
      return new GatewayRouter(ctx, options);
  }
}
