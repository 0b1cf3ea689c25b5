// The shape every action entry point shares: build a Reporter, run, and turn any
// error into one annotation per problem plus a failed step.
import { toGantryError } from '../errors.js';
import { ActionsReporter, Reporter, reportFailure } from './reporter.js';

export async function runAction(main: (reporter: Reporter) => Promise<void>): Promise<void> {
  const reporter = new ActionsReporter();
  try {
    await main(reporter);
  } catch (err) {
    // reportFailure writes the ::error annotations; setting the exit code (rather than
    // core.setFailed) avoids a second, location-less copy of the same message.
    reportFailure(reporter, toGantryError(err));
    process.exitCode = 1;
  }
}
