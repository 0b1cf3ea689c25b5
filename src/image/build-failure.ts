// Turns a failed docker build's output into one GantryError that points at the Dockerfile
// line docker blames, whichever builder produced the output.
import { GantryError, ErrorLocation } from '../errors.js';
import { withoutLegacyNotice } from './docker.js';
import { instructionAtLine, instructionAtStep, instructionByText } from './dockerfile.js';

export interface FailedBuild {
  stdout: string;
  stderr: string;
  exitCode: number;
  /** The Dockerfile's text, to map "Step 3/5" to a line; undefined when it cannot be read. */
  dockerfileText?: string;
  /** The Dockerfile path for the annotation, relative to the workspace. */
  dockerfileDisplay: string;
}

export function explainBuildFailure(build: FailedBuild): GantryError {
  const output = `${build.stdout}\n${build.stderr}`;
  const line = blamedLine(output, build.dockerfileText);
  const location: ErrorLocation | undefined = line ? { file: build.dockerfileDisplay, line: line.line } : undefined;
  const what = line?.text ? ` at ${line.text}` : '';
  const reason = failureReason(build) || `exit code ${build.exitCode}`;
  return new GantryError(`The image build failed${what}: ${reason}`, {
    title: 'Build failed',
    location,
    hint: location
      ? `fix ${build.dockerfileDisplay} line ${location.line}; the full build log is in the "Build" group above`
      : 'the full build log is in the "Build" group above',
  });
}

function blamedLine(output: string, dockerfileText: string | undefined): { line: number; text?: string } | undefined {
  // Both builders: "dockerfile parse error on line 3: unknown instruction: FOO"
  const parse = /dockerfile parse error (?:on )?line (\d+)/i.exec(output);
  if (parse) return withText(Number(parse[1]), dockerfileText);
  // BuildKit prints the blamed line and an excerpt: "Dockerfile:3\n--------------------".
  const excerpt = [...output.matchAll(/^(?:\s*)([^\s:]+):(\d+)\r?\n-{8,}/gm)].pop();
  if (excerpt) return withText(Number(excerpt[2]), dockerfileText);
  // Older BuildKit (engine 20.10) prints no excerpt, only the failing vertex: " > [2/2] RUN make:".
  const vertex = [...output.matchAll(/^ > \[[^\]]*\d+\/\d+\] (.+):\s*$/gm)].pop();
  if (vertex && dockerfileText !== undefined) {
    const ins = instructionByText(dockerfileText, vertex[1]!);
    if (ins) return { line: ins.line, text: ins.text };
  }
  // The classic builder numbers instructions: "Step 3/5 : RUN make"; the failing one is the last printed.
  const step = [...output.matchAll(/^Step (\d+)\/\d+ : (.*)$/gm)].pop();
  if (step && dockerfileText !== undefined) {
    const ins = instructionAtStep(dockerfileText, Number(step[1]));
    if (ins) return { line: ins.line, text: ins.text };
  }
  return undefined;
}

function withText(line: number, dockerfileText: string | undefined): { line: number; text?: string } {
  const ins = dockerfileText === undefined ? undefined : instructionAtLine(dockerfileText, line);
  return { line, text: ins?.line === line ? ins.text : undefined };
}

/** The line docker ends with: "ERROR: failed to solve: …" or the classic builder's last words. */
function failureReason(build: FailedBuild): string {
  const errorLine = [...`${build.stderr}\n${build.stdout}`.matchAll(/^(?:ERROR|error):\s*(.+)$/gm)].pop();
  if (errorLine) return errorLine[1]!.trim();
  const last = (text: string): string => withoutLegacyNotice(text).split('\n').map((l) => l.trim()).filter(Boolean).pop() ?? '';
  return last(build.stderr).replace(/^Error response from daemon:\s*/, '') || last(build.stdout);
}
