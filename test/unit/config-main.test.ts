import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gitContextFromEvent } from '../../src/config/build-push.js';
import { parseMainConfig, withBuiltImage } from '../../src/config/main.js';
import { MapSource } from '../../src/config/source.js';
import { GantryErrors } from '../../src/errors.js';

const ws = mkdtempSync(join(tmpdir(), 'gantry-main-'));
writeFileSync(join(ws, 'Dockerfile'), 'FROM scratch\n');
const env = { GITHUB_WORKSPACE: ws, GITHUB_REPOSITORY: 'acme/web', GITHUB_SHA: '9b2e6f0c4a1d3e5f7a9c1b3d5e7f9a1c3b5d7e9f', GITHUB_REF: 'refs/heads/main' };
const git = gitContextFromEvent(env, {});
const parse = (inputs: Record<string, string>) => parseMainConfig(new MapSource(inputs, 'input'), git, env, new Date('2026-11-23T00:00:00Z'));
const DIGEST = 'sha256:' + 'c'.repeat(64);

describe('all-in-one action inputs', () => {
  it('deploys only, without a build, when neither image nor tags is set', () => {
    const config = parse({ manifests: 'k8s', context: 'ops' });
    expect(config.build).toBeUndefined();
    expect(config.deploy.target).toEqual({ namespace: 'default', app: 'web' });
  });

  it('builds when image is set; `context` is the build context and `kube-context` the kubeconfig context', () => {
    const config = parse({ image: 'localhost:5000/acme/web', manifests: 'k8s', 'kube-context': 'staging' });
    expect(config.build?.context).toBe(ws);
    expect(config.deploy.kubectl.context).toBe('staging');
  });

  it('reports bad build and bad deploy inputs together, before anything runs', () => {
    let caught: unknown;
    try {
      parse({ image: 'localhost:5000/acme/web', context: 'missing-dir', manifests: 'k8s', timeout: 'soon' });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(GantryErrors);
    const text = (caught as GantryErrors).errors.map((e) => e.message).join('\n');
    expect(text).toContain('input "context"');
    expect(text).toContain('input "timeout"');
  });

  it('refuses push: false, since the cluster could not pull the image', () => {
    expect(() => parse({ image: 'localhost:5000/acme/web', push: 'false', manifests: 'k8s' })).toThrow(/input "push" is false/);
  });
});

describe('withBuiltImage', () => {
  it('maps the built repository to the image pinned by digest', () => {
    expect(withBuiltImage({}, `localhost:5000/acme/web@${DIGEST}`)).toEqual({ 'localhost:5000/acme/web': `localhost:5000/acme/web@${DIGEST}` });
  });

  it('leaves an explicit mapping of that repository alone, and keeps other images', () => {
    const images = { 'localhost:5000/acme/web': 'localhost:5000/acme/web:pinned', 'localhost:5000/acme/sidecar': 'localhost:5000/acme/sidecar:v2' };
    expect(withBuiltImage(images, `localhost:5000/acme/web@${DIGEST}`)).toEqual(images);
  });
});
