import { describe, expect, it } from 'vitest';
import { parseCliArgs } from '../../src/config/cli-args.js';
import { parseConfig } from '../../src/config/deploy.js';
import { EnvInputSource } from '../../src/config/source.js';

describe('gantry CLI arguments', () => {
  it('mirror the action inputs and produce the same Config', () => {
    const args = parseCliArgs(['deploy', '--manifests', 'k8s/app.yaml', '--manifests=k8s/svc.yaml', '--app', 'web', '--namespace', 'prod', '--images', 'localhost:5000/app@sha256:1111111111111111111111111111111111111111111111111111111111111111', '--timeout', '2m']);
    const fromFlags = parseConfig(args.command, args.source, { GITHUB_WORKSPACE: '/ws' });
    const fromInputs = parseConfig('deploy', new EnvInputSource({
      INPUT_MANIFESTS: 'k8s/app.yaml\nk8s/svc.yaml', INPUT_APP: 'web', INPUT_NAMESPACE: 'prod', INPUT_IMAGES: 'localhost:5000/app@sha256:1111111111111111111111111111111111111111111111111111111111111111', INPUT_TIMEOUT: '2m',
    }), { GITHUB_WORKSPACE: '/ws' });
    expect({ ...fromFlags, run: undefined }).toEqual({ ...fromInputs, run: undefined });
  });

  it.each([
    [['ship'], /Unknown command "ship"/],
    [['deploy', '--manifest', 'x'], /Unknown flag --manifest/],
    [['deploy', '--timeout'], /--timeout needs a value/],
    [['deploy', 'k8s/'], /Unexpected argument "k8s\/"/],
  ])('rejects %j', (argv, message) => {
    expect(() => parseCliArgs(argv)).toThrow(message);
  });

  it('validates flags with the same rules and names them as flags', () => {
    const args = parseCliArgs(['deploy', '--app', 'web', '--manifests', 'k8s', '--timeout', 'forever']);
    expect(() => parseConfig(args.command, args.source, {})).toThrow('--timeout must be a duration like 90s, 5m or 1h30m, got "forever"');
  });

  it('shows help without a command', () => {
    expect(parseCliArgs([]).help).toBe(true);
    expect(parseCliArgs(['status', '--help']).help).toBe(true);
  });
});
