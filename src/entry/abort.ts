// Entry point of actions/abort: stop a progressive rollout and restore stable.
import { parseConfig } from '../config/deploy.js';
import { EnvInputSource } from '../config/source.js';
import { runAction } from '../report/action-runner.js';
import { abort, outcomeError } from '../strategies/commands.js';
import { runOutcomeStep } from '../strategies/step.js';

await runAction((reporter) => runOutcomeStep(parseConfig('abort', new EnvInputSource()), reporter, abort, (outcome) => outcomeError(outcome, ['aborted'])));
