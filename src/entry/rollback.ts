// Entry point of actions/rollback: restore the last known good revision (or `revision`)
// on demand, or finish undoing a rollout a dead run left behind.
import { parseConfig } from '../config/deploy.js';
import { EnvInputSource } from '../config/source.js';
import { runAction } from '../report/action-runner.js';
import { rollback, rollbackError } from '../strategies/commands.js';
import { runOutcomeStep } from '../strategies/step.js';

await runAction((reporter) => runOutcomeStep(parseConfig('rollback', new EnvInputSource()), reporter, rollback, rollbackError));
