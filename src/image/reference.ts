// Image references (registry/repository:tag): parsing and validation with messages
// that name the offending characters, following the grammar of distribution/reference.

export interface ImageReference {
  /** Registry host as docker addresses it: localhost:5000, ghcr.io, docker.io. */
  registry: string;
  /** Repository path inside the registry: team/app (library/nginx for official Docker Hub images). */
  repository: string;
  tag: string;
  /** The reference without its tag, as the user wrote it: localhost:5000/team/app. */
  name: string;
}

export interface Problem {
  problem: string;
}

const DOCKER_HUB = 'docker.io';
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DOMAIN = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::\d+)?$|^\[[0-9a-fA-F:]+\](?::\d+)?$/;

export function formatReference(ref: ImageReference): string {
  return `${ref.name}:${ref.tag}`;
}

/** `name@digest`, the immutable form deploy steps should use. */
export function digestReference(ref: ImageReference, digest: string): string {
  return `${ref.name}@${digest}`;
}

/** Parses a repository without a tag (the `image` input). */
export function parseRepository(text: string): Omit<ImageReference, 'tag'> | Problem {
  const value = text.trim();
  const slash = value.indexOf('/');
  const first = slash < 0 ? '' : value.slice(0, slash);
  // The same rule docker uses: the first component is a registry when it looks like a host.
  const hasDomain = slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('['));
  const registry = hasDomain ? first : DOCKER_HUB;
  const path = hasDomain ? value.slice(slash + 1) : value;
  if (path.includes(':') || path.includes('@')) {
    return { problem: `"${value}" has a tag or digest; give the repository only (e.g. ${value.split(/[:@]/)[0]})` };
  }
  if (hasDomain && !DOMAIN.test(registry)) {
    return { problem: `registry "${registry}" in "${value}" is not a valid host[:port]${namedChars(registry, /[A-Za-z0-9.:[\]-]/)}` };
  }
  if (path === '') return { problem: `"${value}" has no repository name` };
  for (const component of path.split('/')) {
    if (!COMPONENT.test(component)) {
      const bad = namedChars(path.replace(/\//g, ''), /[a-z0-9._-]/);
      const why = bad || (component === '' ? ': it has an empty path component (//)' : ': separators (. _ __ -) must sit between letters or digits');
      return { problem: `repository "${path}" is not valid${why}; repository names use lowercase letters, digits and . _ - separators` };
    }
  }
  const repository = registry === DOCKER_HUB && !path.includes('/') ? `library/${path}` : path;
  return { registry, repository, name: value };
}

/** Parses a full reference `[registry/]repository:tag`; the tag is required. */
export function parseReference(text: string): ImageReference | Problem {
  const value = text.trim();
  if (value.includes('@')) {
    return { problem: `"${value}" contains "@": tags cannot carry a digest; the digest is an output of the build` };
  }
  // The tag starts at the first ":" after the registry part, so that a "/" inside a tag is reported as a tag problem.
  const slash = value.indexOf('/');
  const first = slash < 0 ? '' : value.slice(0, slash);
  const domainLike = slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost');
  const afterDomain = domainLike ? slash + 1 : 0;
  const colon = value.indexOf(':', afterDomain);
  if (colon < 0) return { problem: `"${value}" has no tag; write it as ${value}:<tag>` };
  const tag = value.slice(colon + 1);
  const repo = parseRepository(value.slice(0, colon));
  if ('problem' in repo) return repo;
  const tagProblem = validateTag(tag);
  if (tagProblem) return { problem: tagProblem };
  return { ...repo, tag };
}

/** Returns why a tag is invalid, naming the characters, or undefined when it is fine. */
export function validateTag(tag: string): string | undefined {
  if (TAG.test(tag)) return undefined;
  if (tag === '') return 'the tag is empty';
  if (tag.length > 128) return `tag "${tag.slice(0, 20)}…" is ${tag.length} characters long; at most 128 are allowed`;
  const bad = namedChars(tag, /[A-Za-z0-9_.-]/);
  if (bad) return `tag "${tag}" is not valid${bad}; tags use letters, digits, _ . and -`;
  return `tag "${tag}" is not valid: it must not start with "${tag[0]}"; start it with a letter, digit or _`;
}

/** ": it contains "/" and " "" for the characters outside `allowed`, or "" when there are none. */
function namedChars(text: string, allowed: RegExp): string {
  const bad = [...new Set([...text].filter((c) => !allowed.test(c)))];
  if (bad.length === 0) return '';
  return `: it contains ${bad.map((c) => (c === ' ' ? 'a space' : `"${c}"`)).join(', ')}`;
}
