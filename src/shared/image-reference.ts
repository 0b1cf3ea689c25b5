// Image references, `[registry/]repository[:tag][@digest]`: the one parser for every
// reference Gantry reads (build-push inputs, deploy inputs, the images in manifests and
// in pod statuses). It follows the grammar of github.com/distribution/reference, which
// Docker and the kubelet use, so Gantry names the image they would pull, and its
// problems name the offending characters.

export interface ImageReference {
  /**
   * Registry host as docker addresses it, with its port if any (`localhost:5000`, `ghcr.io`);
   * `docker.io` when the reference names none.
   */
  registry: string;
  /** Repository path inside the registry: team/app (library/nginx for official Docker Hub images). */
  repository: string;
  tag?: string;
  digest?: string;
  /** The reference without tag and digest, as the user wrote it: localhost:5000/team/app. */
  name: string;
}

/** A reference with a tag: what build-push builds and pushes. */
export interface TaggedReference extends ImageReference {
  tag: string;
}

export interface Problem {
  problem: string;
}

const DOCKER_HUB = 'docker.io';
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9A-Fa-f]{32,}$/;
const DOMAIN = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::\d+)?$|^\[[0-9a-fA-F:]+\](?::\d+)?$/;

/** The parts of a reference before any of them is checked. */
interface Parts {
  /** The first path component when it names a registry, as written. */
  domain?: string;
  path: string;
  tag?: string;
  digest?: string;
  name: string;
}

function split(value: string): Parts {
  let rest = value;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  const slash = rest.indexOf('/');
  const first = slash < 0 ? '' : rest.slice(0, slash);
  // Docker's rule: the first component is a registry when it looks like a host (a dot, a
  // port, localhost, an IPv6 address) or has capitals, which a repository cannot.
  const hasDomain = slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('[') || first.toLowerCase() !== first);
  let path = hasDomain ? rest.slice(slash + 1) : rest;
  // The tag starts at the first ":" after the registry, so that a "/" inside a tag is
  // reported as a problem of the tag rather than of the repository.
  let tag: string | undefined;
  const colon = path.indexOf(':');
  if (colon >= 0) {
    tag = path.slice(colon + 1);
    path = path.slice(0, colon);
  }
  return { domain: hasDomain ? first : undefined, path, tag, digest, name: hasDomain ? `${first}/${path}` : path };
}

function check(value: string, parts: Parts): ImageReference | Problem {
  const { domain, path, tag, digest, name } = parts;
  if (domain !== undefined && !DOMAIN.test(domain)) {
    return { problem: `registry "${domain}" in "${value}" is not a valid host[:port]${namedChars(domain, /[A-Za-z0-9.:[\]-]/)}` };
  }
  if (path === '') return { problem: `"${value}" has no repository name` };
  for (const component of path.split('/')) {
    if (!COMPONENT.test(component)) {
      const bad = namedChars(path.replace(/\//g, ''), /[a-z0-9._-]/);
      const why = bad || (component === '' ? ': it has an empty path component (//)' : ': separators (. _ __ -) must sit between letters or digits');
      return { problem: `repository "${path}" is not valid${why}; repository names use lowercase letters, digits and . _ - separators` };
    }
  }
  if (tag !== undefined) {
    const tagProblem = validateTag(tag);
    if (tagProblem) return { problem: tagProblem };
  }
  if (digest !== undefined && !DIGEST.test(digest)) {
    return { problem: `digest "${digest}" in "${value}" is not valid; a digest is an algorithm and hex digits, e.g. sha256:…` };
  }
  // Docker Hub: `nginx`, `library/nginx`, `docker.io/nginx` and `index.docker.io/library/nginx`
  // all name the one repository Docker and the kubelet pull, so they compare equal.
  const registry = domain === undefined || domain === 'index.docker.io' ? DOCKER_HUB : domain;
  const repository = registry === DOCKER_HUB && !path.includes('/') ? `library/${path}` : path;
  return { registry, repository, tag, digest, name };
}

/** Parses any reference, tag and digest optional, exactly as written (no trimming). */
export function parseImageReference(text: string): ImageReference | Problem {
  return check(text, split(text));
}

/**
 * The reference, or undefined when `text` is not one: for images Gantry only matches
 * (deploy inputs, containers in manifests), where "not understood" is an answer.
 */
export function parseImage(text: string): ImageReference | undefined {
  const ref = parseImageReference(text);
  return 'problem' in ref ? undefined : ref;
}

/** `registry/repository`, the key two references are compared by. */
export function repositoryOf(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}`;
}

/** Parses a repository without a tag or digest (build-push's `image` input). */
export function parseRepository(text: string): ImageReference | Problem {
  const value = text.trim();
  const parts = split(value);
  if (parts.tag !== undefined || parts.digest !== undefined) {
    return { problem: `"${value}" has a tag or digest; give the repository only (e.g. ${parts.name})` };
  }
  return check(value, parts);
}

/** Parses a full reference `[registry/]repository:tag`; the tag is required and a digest is refused. */
export function parseTaggedReference(text: string): TaggedReference | Problem {
  const value = text.trim();
  if (value.includes('@')) {
    return { problem: `"${value}" contains "@": tags cannot carry a digest; the digest is an output of the build` };
  }
  const parts = split(value);
  if (parts.tag === undefined) return { problem: `"${value}" has no tag; write it as ${value}:<tag>` };
  const ref = check(value, parts);
  return 'problem' in ref ? ref : { ...ref, tag: parts.tag };
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

/** `name[:tag][@digest]`, as written. */
export function formatReference(ref: ImageReference): string {
  return `${ref.name}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@${ref.digest}` : ''}`;
}

/** `name@digest`, the immutable form deploy steps should use. */
export function digestReference(ref: ImageReference, digest: string): string {
  return `${ref.name}@${digest}`;
}

/** ": it contains "/" and " "" for the characters outside `allowed`, or "" when there are none. */
function namedChars(text: string, allowed: RegExp): string {
  const bad = [...new Set([...text].filter((c) => !allowed.test(c)))];
  if (bad.length === 0) return '';
  return `: it contains ${bad.map((c) => (c === ' ' ? 'a space' : `"${c}"`)).join(', ')}`;
}
