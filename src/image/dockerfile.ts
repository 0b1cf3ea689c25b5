// Reads a Dockerfile just far enough to know where each instruction starts, so that
// a build failure reported as "Step 3/5" or "Dockerfile:12" points at the right line.

export interface Instruction {
  /** 1-based line where the instruction starts. */
  line: number;
  /** The keyword, upper-cased: FROM, RUN, COPY… */
  keyword: string;
  /** The instruction's first line as written, for messages. */
  text: string;
  /** The whole instruction, continuations joined and whitespace collapsed, as BuildKit names it. */
  full: string;
}

/** Lists the instructions in order, skipping comments, blank lines, parser directives and continuations. */
export function instructions(dockerfile: string): Instruction[] {
  const lines = dockerfile.split(/\r?\n/);
  let escape = '\\';
  // Parser directives (# escape=`) are only recognised before the first instruction or comment.
  for (const raw of lines) {
    const m = /^#\s*([A-Za-z]+)\s*=\s*(\S+)\s*$/.exec(raw);
    if (!m) break;
    if (m[1]!.toLowerCase() === 'escape') escape = m[2]!;
  }
  const out: Instruction[] = [];
  let continuing = false;
  let heredocEnd: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const trimmed = line.trim();
    if (heredocEnd.length > 0) {
      if (trimmed === heredocEnd[0]) heredocEnd.shift();
      continue;
    }
    if (trimmed.startsWith('#')) continue; // comments may sit inside a continued instruction too
    if (trimmed === '') {
      continue;
    }
    const body = trimmed.endsWith(escape) ? trimmed.slice(0, -escape.length) : trimmed;
    if (continuing) {
      const last = out[out.length - 1]!;
      last.full = collapse(`${last.full} ${body}`);
    } else {
      const keyword = /^([A-Za-z]+)/.exec(trimmed)?.[1]?.toUpperCase() ?? trimmed;
      out.push({ line: i + 1, keyword, text: trimmed, full: collapse(body) });
      // BuildKit heredocs (RUN <<EOF … EOF): their bodies are not instructions.
      heredocEnd = [...trimmed.matchAll(/<<-?(["']?)([A-Za-z_][A-Za-z0-9_]*)\1/g)].map((m) => m[2]!);
    }
    continuing = trimmed.endsWith(escape);
  }
  return out;
}

/** The instruction at a 1-based step number as the classic builder counts them ("Step 3/5"). */
export function instructionAtStep(dockerfile: string, step: number): Instruction | undefined {
  return instructions(dockerfile)[step - 1];
}

/** The instruction that covers a 1-based line (the one starting at or before it). */
export function instructionAtLine(dockerfile: string, line: number): Instruction | undefined {
  let found: Instruction | undefined;
  for (const ins of instructions(dockerfile)) {
    if (ins.line <= line) found = ins;
    else break;
  }
  return found;
}

/**
 * The instruction BuildKit names in its failure ("> [build 2/3] RUN make:"). BuildKit's
 * step numbers skip FROM and count per stage, so the text is what identifies it.
 */
export function instructionByText(dockerfile: string, text: string): Instruction | undefined {
  const wanted = collapse(text).toLowerCase();
  return instructions(dockerfile).find((ins) => ins.full.toLowerCase() === wanted);
}

function collapse(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
