// One comment per pull request and purpose, edited in place on every run: it is found by a
// hidden marker on its first line, so a second run edits it instead of adding another, and
// duplicates that a race between two runs may have left are removed.
import type { GitHubClient } from './github.js';

export interface IssueRef {
  owner: string;
  repo: string;
  issue: number;
}

/** GitHub refuses comment bodies longer than this many characters. */
export const COMMENT_LIMIT = 65_536;

/** `<!-- gantry-plan: prod/web -->`: invisible in the rendered comment, and unique per purpose. */
export function marker(key: string): string {
  return `<!-- ${key.replace(/-->/g, '')} -->`;
}

export type UpsertResult = { action: 'created' | 'updated' | 'unchanged'; id: number; url?: string };

/**
 * Writes `body` (which must start with `mark`) as the one comment carrying `mark`: the oldest
 * such comment is edited (left alone when it already says exactly this), later ones are
 * deleted, and a new one is created only when there is none.
 */
export async function upsertComment(github: GitHubClient, where: IssueRef, mark: string, body: string): Promise<UpsertResult> {
  if (!body.startsWith(mark)) throw new Error('a sticky comment must start with its marker');
  const params = { owner: where.owner, repo: where.repo, issue_number: where.issue, per_page: 100 };
  const all = await github.paginate(github.rest.issues.listComments, params);
  // The marker is the first line; a quote of the comment by a person has it further down, if at all.
  const mine = all.filter((c) => c.body?.startsWith(mark)).sort((a, b) => a.id - b.id);
  const [keep, ...extra] = mine;
  for (const c of extra) await github.rest.issues.deleteComment({ owner: where.owner, repo: where.repo, comment_id: c.id });
  if (!keep) {
    const created = await github.rest.issues.createComment({ owner: where.owner, repo: where.repo, issue_number: where.issue, body });
    return { action: 'created', id: created.data.id, url: created.data.html_url };
  }
  if (keep.body === body) return { action: 'unchanged', id: keep.id, url: keep.html_url };
  const updated = await github.rest.issues.updateComment({ owner: where.owner, repo: where.repo, comment_id: keep.id, body });
  return { action: 'updated', id: updated.data.id, url: updated.data.html_url };
}
