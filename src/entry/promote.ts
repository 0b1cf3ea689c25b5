// Entry point of actions/promote: continue a paused canary from a later, separate run.
import { parseConfig } from '../config/deploy.js';
import { EnvInputSource } from '../config/source.js';
import { runAction } from '../report/action-runner.js';
import { promote as command, clientFor, outcomeError, reportOutcome } from '../strategies/commands.js';

await runAction(async (reporter) => {
  const config = parseConfig('promote', new EnvInputSource());
  const client = clientFor(config);
  try {
    const outcome = await command(config, { client, reporter });
    await reportOutcome(reporter, config, outcome);
    const failed = outcomeError(outcome);
    if (failed) throw failed;
  } catch (err) {
    reporter.setOutput('result', 'failed');
    throw err;
  } finally {
    client.close();
  }
});
