// Entry point of actions/plan: inputs → PlanConfig → render, validate, diff → outputs, job
// summary and the sticky PR comment. Changes nothing in the cluster.
import { readGitContext } from '../config/build-push.js';
import { parsePlanConfig } from '../config/plan.js';
import { EnvInputSource } from '../config/source.js';
import { runAction } from '../report/action-runner.js';
import { runPlanStep } from '../strategies/plan-step.js';

await runAction(async (reporter) => {
  const config = parsePlanConfig(new EnvInputSource(), readGitContext());
  await runPlanStep(config, reporter);
});
