// Entry point of actions/abort: stop a progressive rollout and restore stable.
import { parseConfig } from '../config/deploy.js';
import { EnvInputSource } from '../config/source.js';
import { runAction } from '../report/action-runner.js';
import { abort as command, clientFor, outcomeError, reportOutcome } from '../strategies/commands.js';

await runAction(async (reporter) => {
  const config = parseConfig('abort', new EnvInputSource());
  const client = clientFor(config);
  try {
    const outcome = await command(config, { client, reporter });
    await reportOutcome(reporter, config, outcome);
    const failed = outcomeError(outcome, ['aborted']);
    if (failed) throw failed;
  } catch (err) {
    reporter.setOutput('result', 'failed');
    throw err;
  } finally {
    client.close();
  }
});
