// Entry point of actions/rollback: restore the last known good revision (or `revision`)
// on demand, or finish undoing a rollout a dead run left behind.
import { parseConfig } from '../config/deploy.js';
import { EnvInputSource } from '../config/source.js';
import { runAction } from '../report/action-runner.js';
import { clientFor, reportOutcome, rollback, rollbackError } from '../strategies/commands.js';

await runAction(async (reporter) => {
  const config = parseConfig('rollback', new EnvInputSource());
  try {
    const client = clientFor(config);
    const outcome = await rollback(config, { client, reporter }).finally(() => client.close());
    await reportOutcome(reporter, config, outcome);
    const failed = rollbackError(outcome);
    if (failed) throw failed;
  } catch (err) {
    reporter.setOutput('result', 'failed');
    throw err;
  }
});
