// Entry point of actions/status: where the target stands; fails when it is degraded.
import { parseConfig } from '../config/deploy.js';
import { EnvInputSource } from '../config/source.js';
import { runAction } from '../report/action-runner.js';
import { status as command, clientFor, statusError } from '../strategies/commands.js';

await runAction(async (reporter) => {
  const config = parseConfig('status', new EnvInputSource());
  const client = clientFor(config);
  try {
    const report = await command(config, { client, reporter });
    const degraded = statusError(report);
    if (degraded) throw degraded;
  } finally {
    client.close();
  }
});
