// What a deploy is aimed at and who runs it. Plain data: the inputs name them, and the
// lock, state and history in the cluster are keyed by them.

/** One application in one namespace; it names the lock, state and history of a deploy. */
export interface Target {
  namespace: string;
  app: string;
}

/** Who runs a deploy: a stable id for the lock and the link people follow to find it. */
export interface Holder {
  id: string;
  runUrl: string;
}
