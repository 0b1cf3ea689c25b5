// Entry point of actions/promote: continue a paused canary from a later, separate run.
import { parseConfig } from '../config/deploy.js';
import { EnvInputSource } from '../config/source.js';
import { runAction } from '../report/action-runner.js';
import { outcomeError, promote } from '../strategies/commands.js';
import { runOutcomeStep } from '../strategies/step.js';

await runAction((reporter) => runOutcomeStep(parseConfig('promote', new EnvInputSource()), reporter, promote, outcomeError));
