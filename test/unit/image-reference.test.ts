// Image references: one parser for build-push's inputs, deploy's inputs and the images in
// manifests. It reads a reference the way Docker and the kubelet do, and says what is wrong
// with one it refuses.
import { describe, expect, it } from 'vitest';
import { formatReference, parseImage, parseImageReference, parseRepository, parseTaggedReference, repositoryOf } from '../../src/shared/image-reference.js';

const DIGEST = 'sha256:' + 'a'.repeat(64);

describe('any reference', () => {
  it.each([
    ['nginx', { registry: 'docker.io', repository: 'library/nginx', name: 'nginx' }],
    ['nginx:1.27', { registry: 'docker.io', repository: 'library/nginx', tag: '1.27', name: 'nginx' }],
    ['docker.io/library/nginx', { registry: 'docker.io', repository: 'library/nginx', name: 'docker.io/library/nginx' }],
    ['docker.io/nginx', { registry: 'docker.io', repository: 'library/nginx', name: 'docker.io/nginx' }],
    ['index.docker.io/library/nginx', { registry: 'docker.io', repository: 'library/nginx', name: 'index.docker.io/library/nginx' }],
    ['bitnami/redis', { registry: 'docker.io', repository: 'bitnami/redis', name: 'bitnami/redis' }],
    ['localhost:5000/app', { registry: 'localhost:5000', repository: 'app', name: 'localhost:5000/app' }],
    ['localhost:5000/app:v2', { registry: 'localhost:5000', repository: 'app', tag: 'v2', name: 'localhost:5000/app' }],
    ['localhost/app', { registry: 'localhost', repository: 'app', name: 'localhost/app' }],
    ['Registry/app', { registry: 'Registry', repository: 'app', name: 'Registry/app' }],
    ['[::1]:5000/app:v1', { registry: '[::1]:5000', repository: 'app', tag: 'v1', name: '[::1]:5000/app' }],
    [`ghcr.io/o/r/app:v1@${DIGEST}`, { registry: 'ghcr.io', repository: 'o/r/app', tag: 'v1', digest: DIGEST, name: 'ghcr.io/o/r/app' }],
    [`registry.example.com:443/team/app@${DIGEST}`, { registry: 'registry.example.com:443', repository: 'team/app', digest: DIGEST, name: 'registry.example.com:443/team/app' }],
  ])('%s', (text, expected) => {
    expect(parseImage(text)).toEqual(expected);
    expect(formatReference(parseImage(text)!)).toBe(text);
  });

  it.each([
    ['', 'has no repository name'],
    [' nginx', 'it contains a space'],
    ['Nginx', 'repository "Nginx" is not valid: it contains "N"'],
    ['app:', 'the tag is empty'],
    ['app@sha256:short', 'digest "sha256:short" in "app@sha256:short" is not valid'],
    ['$(IMAGE)', 'it contains "$", "(", "I", "M", "A", "G", "E", ")"'],
    ['a//b', 'it has an empty path component (//)'],
    ['localhost:5000/', 'has no repository name'],
    ['local_host:5000/app', 'registry "local_host:5000" in "local_host:5000/app" is not a valid host[:port]: it contains "_"'],
  ])('%j is not a reference: %s', (text, problem) => {
    expect(parseImage(text)).toBeUndefined();
    const result = parseImageReference(text);
    expect('problem' in result && result.problem).toContain(problem);
  });

  it('references to one repository compare equal, whatever tag, digest or Docker Hub spelling they use', () => {
    const keys = ['nginx', 'nginx:1.27', 'library/nginx', 'docker.io/nginx', `index.docker.io/library/nginx@${DIGEST}`].map((t) => repositoryOf(parseImage(t)!));
    expect(new Set(keys)).toEqual(new Set(['docker.io/library/nginx']));
    expect(repositoryOf(parseImage('localhost:5000/app')!)).not.toBe(repositoryOf(parseImage('localhost:5001/app')!));
  });
});

describe('a repository (build-push image input)', () => {
  it('is read without a tag and keeps the name as written', () => {
    expect(parseRepository(' ghcr.io/acme/shop ')).toEqual({ registry: 'ghcr.io', repository: 'acme/shop', name: 'ghcr.io/acme/shop' });
  });

  it.each([
    ['localhost:5000/app:v1', '"localhost:5000/app:v1" has a tag or digest; give the repository only (e.g. localhost:5000/app)'],
    [`ghcr.io/acme/shop@${DIGEST}`, 'has a tag or digest; give the repository only (e.g. ghcr.io/acme/shop)'],
  ])('%s is refused', (text, problem) => {
    const result = parseRepository(text);
    expect('problem' in result && result.problem).toContain(problem);
  });
});

describe('a tagged reference (build-push tags)', () => {
  it.each([
    ['localhost:5000/gantry/app:v1', { registry: 'localhost:5000', repository: 'gantry/app', tag: 'v1' }],
    ['ghcr.io/acme/shop:1.4.2', { registry: 'ghcr.io', repository: 'acme/shop', tag: '1.4.2' }],
    ['nginx:latest', { registry: 'docker.io', repository: 'library/nginx', tag: 'latest' }],
    ['acme/shop:main', { registry: 'docker.io', repository: 'acme/shop', tag: 'main' }],
  ])('%s is understood', (text, expected) => {
    expect(parseTaggedReference(text)).toMatchObject(expected);
  });

  it.each([
    ['localhost:5000/app:feature/x', 'tag "feature/x" is not valid: it contains "/"'],
    ['localhost:5000/app:v1 beta', 'tag "v1 beta" is not valid: it contains a space'],
    ['localhost:5000/app:.hidden', 'it must not start with "."'],
    ['localhost:5000/Gantry/App:v1', 'repository "Gantry/App" is not valid: it contains "G", "A"'],
    ['localhost:5000/app', 'has no tag'],
    ['localhost:5000/app@sha256:abc', 'contains "@"'],
  ])('%s is rejected, naming the problem', (text, message) => {
    const result = parseTaggedReference(text);
    expect('problem' in result && result.problem).toContain(message);
  });
});
