// The `gantry` command: flags → the same Config as the actions → the same engine.
// Prints progress to stdout, errors to stderr, and the outputs as name=value at the end.
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseCliArgs, USAGE } from '../config/cli-args.js';
import { parseConfig } from '../config/deploy.js';
import { toGantryError } from '../errors.js';
import { ConsoleReporter, reportFailure } from '../report/reporter.js';
import { abort, clientFor, deploy, outcomeError, promote, reportOutcome, rollback, rollbackError, status, statusError } from '../strategies/commands.js';
import { withAnnouncements } from '../strategies/announce.js';

const reporter = new ConsoleReporter();
// kubectl and helm versions Gantry installs are kept in the tool cache; outside Actions,
// which sets RUNNER_TOOL_CACHE, that is Gantry's own cache directory.
process.env.RUNNER_TOOL_CACHE ||= join(homedir(), '.cache', 'gantry', 'tool-cache');
try {
  const args = parseCliArgs(process.argv.slice(2));
  if (args.help) {
    process.stdout.write(USAGE);
  } else {
    const config = parseConfig(args.command, args.source);
    const runtime = { client: clientFor(config), reporter };
    try {
      if (args.command === 'status') {
        const degraded = statusError(await status(config, runtime));
        if (degraded) throw degraded;
      } else {
        const run = { deploy, rollback, promote, abort }[args.command];
        // --github-token and --webhook-url tell GitHub and a webhook, as the actions do.
        const outcome = await withAnnouncements(config, args.command, runtime.client, reporter, () => run(config, runtime));
        await reportOutcome(reporter, config, outcome);
        for (const [k, v] of Object.entries(reporter.outputs)) reporter.info(`${k}=${v.replace(/\n/g, ',')}`);
        const failed = args.command === 'rollback' ? rollbackError(outcome) : outcomeError(outcome, args.command === 'abort' ? ['aborted'] : ['deployed', 'paused']);
        if (failed) throw failed;
      }
    } finally {
      runtime.client.close();
    }
  }
} catch (err) {
  reportFailure(reporter, toGantryError(err));
  process.exitCode = 1;
}
