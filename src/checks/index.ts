// Gates: what a rollout asks before it goes on. Specs are parsed from the rollout YAML
// (spec.ts), one gate per kind of check measures (http.ts), and run.ts holds them to their limits.
export type { Gate, GateContext, Verdict, VerdictStatus } from './gate.js';
export { CommandGate, commandGateName } from './command.js';
export { HttpGate, httpGateName, resolveService } from './http.js';
export { JobGate, jobGateName } from './job.js';
export { gateFor, runGates, startBackgroundGates } from './run.js';
export type { BackgroundGates, GateRunOptions, GateRunResult } from './run.js';
export { CHECK_KINDS, GATE_DEFAULTS, GateSpecError, SERVICE_PLACEHOLDERS, parseGateSpecs } from './spec.js';
export type { CheckKind, CheckSpec, CommandCheckSpec, GateSpec, HttpCheckSpec, JobCheckSpec, StatusRange } from './spec.js';
