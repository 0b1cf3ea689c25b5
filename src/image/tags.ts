// Tags generated from the GitHub context when the user lists none: the short commit SHA,
// the branch name made tag-safe, semver aliases for version tags, and pr-<n>.

/**
 * What tags are generated from: the parts of the GitHub context that name a commit,
 * branch, version tag or pull request. config/build-push.ts passes its GitContext; the
 * type is declared here rather than imported so that the two modules do not import each other.
 */
export interface TagSource {
  /** GITHUB_REF: refs/heads/main, refs/tags/v1.2.3, refs/pull/7/merge. */
  ref: string;
  sha: string;
  pullRequest?: number;
}

export const SHORT_SHA_LENGTH = 7;

export function generateTags(git: TagSource): string[] {
  const tags: string[] = [];
  if (git.pullRequest !== undefined) {
    tags.push(`pr-${git.pullRequest}`);
  } else if (git.ref.startsWith('refs/heads/')) {
    const branch = sanitizeTag(git.ref.slice('refs/heads/'.length));
    if (branch) tags.push(branch);
  } else if (git.ref.startsWith('refs/tags/')) {
    const name = git.ref.slice('refs/tags/'.length);
    const semver = semverTags(name);
    if (semver.length > 0) tags.push(...semver);
    else {
      const tag = sanitizeTag(name);
      if (tag) tags.push(tag);
    }
  }
  if (/^[0-9a-f]{7,}$/i.test(git.sha)) tags.push(git.sha.slice(0, SHORT_SHA_LENGTH).toLowerCase());
  return [...new Set(tags)];
}

/**
 * Turns a branch or git tag name into a valid image tag: characters outside
 * [A-Za-z0-9_.-] become "-", leading "." and "-" go, and the result is cut to 128.
 * feature/Login-Form → feature-Login-Form.
 */
export function sanitizeTag(name: string): string {
  return name
    .replace(/[^A-Za-z0-9_.-]+/g, '-')
    .replace(/^[.-]+/, '')
    .slice(0, 128)
    .replace(/[.-]+$/, '');
}

/**
 * v1.2.3 → 1.2.3, 1.2, 1. A pre-release (v1.2.3-rc.1) gets only its full version, so
 * that "1.2" and "1" keep pointing at releases. Major 0 gets no "0" alias: 0.x makes no
 * compatibility promise across minors.
 */
export function semverTags(name: string): string[] {
  const m = /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/.exec(name);
  if (!m) return [];
  const [, major, minor, patch, pre] = m;
  if (pre !== undefined) return [sanitizeTag(`${major}.${minor}.${patch}-${pre}`)];
  const tags = [`${major}.${minor}.${patch}`, `${major}.${minor}`];
  if (major !== '0') tags.push(major!);
  return tags;
}
