// From inputs to what the outside world is told: the inputs parsed into the report config,
// and one run's deployment statuses and webhook message, with its secrets masked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/deploy.js';
import { MapSource } from '../../src/config/source.js';
import { GantryError, GantryErrors } from '../../src/errors.js';
import { Announcer } from '../../src/report/announcer.js';
import { MemoryReporter } from '../../src/report/reporter.js';
import type { RolloutOutcome } from '../../src/strategies/basic.js';
import { withAnnouncements } from '../../src/strategies/announce.js';
import { FakeCluster } from '../fixtures/deploy/fake-cluster.js';
import { FakeGitHub } from '../support/github-api.js';
import { WebhookReceiver } from '../support/webhook.js';

const SHA = '5ca1ab1e'.padEnd(40, '0');
let gh: FakeGitHub;
let receiver: WebhookReceiver;
beforeAll(async () => {
  [gh, receiver] = await Promise.all([FakeGitHub.start(), WebhookReceiver.start()]);
});
afterAll(async () => {
  await Promise.all([gh.stop(), receiver.stop()]);
});

const env = (repo: string) => ({ GITHUB_REPOSITORY: `acme/${repo}`, GITHUB_SHA: SHA, GITHUB_REF: 'refs/heads/main', GITHUB_RUN_ID: '31', GITHUB_SERVER_URL: 'https://github.com', GITHUB_API_URL: gh.url });

describe('report settings', () => {
  it('record the deployment for the namespace by default, at the run\'s commit, on GITHUB_API_URL', () => {
    const config = parseConfig('deploy', new MapSource({ manifests: 'k8s', namespace: 'shop-prod', 'github-token': 'tok' }), env('web'));
    expect(config.report).toEqual({
      environment: 'shop-prod',
      deployments: { token: 'tok', apiUrl: gh.url, owner: 'acme', repo: 'web', sha: SHA, ref: 'refs/heads/main', environment: 'shop-prod', production: false },
    });
  });

  it.each([
    ['production', true], ['prod', true], ['prod-eu', true], ['staging', false], ['products', false],
  ])('treat the environment %s as production: %s', (environment, production) => {
    expect(parseConfig('deploy', new MapSource({ manifests: 'k8s', environment, 'github-token': 'tok' }), env('web')).report.deployments?.production).toBe(production);
  });

  it('record nothing without a token', () => {
    expect(parseConfig('deploy', new MapSource({ manifests: 'k8s', app: 'web' }), env('web')).report).toEqual({ environment: 'default' });
  });

  it('refuse a bad URL without repeating a webhook\'s secret, and a token with nothing to record it for', () => {
    let caught: unknown;
    try {
      parseConfig('deploy', new MapSource({ manifests: 'k8s', app: 'web', 'webhook-url': 'hooks.slack.com/services/s3cr3t', 'environment-url': 'web.example', 'github-token': 'tok' }), {});
    } catch (err) {
      caught = err;
    }
    const messages = (caught as GantryErrors).errors.map((e: GantryError) => e.message);
    expect(messages).toEqual([
      '--environment-url must be an http(s) URL, got "web.example"',
      '--webhook-url is not an http(s) URL',
      '--github-token is set, but the repository or commit to record the deployment for is unknown',
    ]);
  });
});

describe('Announcer', () => {
  const rolledBack: RolloutOutcome = {
    result: 'rolled-back', revision: 8, previousRevision: 7, changed: ['Deployment/web'], timings: { totalMs: 30_000 },
    reason: 'Deployment/web: CrashLoopBackOff of web-6f7 (container web exited with 1)\n  last log: CRASH_ON_START is set',
  };

  it('tells GitHub and the webhook about a rollback, once, with the reason; both secrets are masked', async () => {
    const config = parseConfig('deploy', new MapSource({
      manifests: 'k8s', namespace: 'shop', app: 'web', 'github-token': 'ghs_secret', environment: 'staging', 'environment-url': 'https://staging.example', 'webhook-url': receiver.url,
    }), env('announce'));
    const reporter = new MemoryReporter();
    const announcer = new Announcer(config, 'deploy', reporter);
    expect(reporter.secrets).toEqual([receiver.url, 'ghs_secret']);
    const before = receiver.messages.length;
    await announcer.started();
    const line = await announcer.finished(rolledBack);
    expect(line).toBe('Rolled back: Deployment/web: CrashLoopBackOff of web-6f7 (container web exited with 1)');
    const [deployment] = gh.deployments('acme', 'announce');
    expect(deployment!.statuses.map((s) => [s.state, s.description, s.log_url])).toEqual([
      ['in_progress', 'Gantry deploy of shop/web', 'https://github.com/acme/announce/actions/runs/31'],
      ['failure', line, 'https://github.com/acme/announce/actions/runs/31'],
    ]);
    const messages = receiver.messages.slice(before);
    expect(messages).toHaveLength(1);
    expect(messages[0]!.body.text).toBe(`↩️ shop/web (staging): ${line}`);
    expect(JSON.stringify(messages[0]!.body.blocks)).toContain('last log: CRASH_ON_START is set');
    expect(gh.invalid()).toEqual([]);
  });

  it('marks the deployment error and notifies a failure that happened before any outcome', async () => {
    const config = parseConfig('deploy', new MapSource({ manifests: 'k8s', app: 'web', 'github-token': 'tok', 'webhook-url': receiver.url }), env('crashed'));
    const announcer = new Announcer(config, 'deploy', new MemoryReporter());
    const before = receiver.messages.length;
    await announcer.started();
    await announcer.failed(new GantryError('default/web is locked by https://github.com/acme/crashed/actions/runs/30'));
    expect(gh.deployments('acme', 'crashed')[0]!.statuses.map((s) => s.state)).toEqual(['in_progress', 'error']);
    expect(receiver.messages.slice(before).map((m) => m.body.text)).toEqual(['❌ default/web: Failed: default/web is locked by https://github.com/acme/crashed/actions/runs/30']);
  });

  it('says nothing to anyone without a token or a webhook, and a plain deploy sends no message', async () => {
    const quiet = new Announcer(parseConfig('deploy', new MapSource({ manifests: 'k8s', app: 'web' }), env('quiet')), 'deploy', new MemoryReporter());
    expect(quiet.active).toBe(false);
    const before = { requests: gh.requests.length, messages: receiver.messages.length };
    await quiet.started();
    await quiet.finished(rolledBack);
    const withHook = new Announcer(parseConfig('deploy', new MapSource({ manifests: 'k8s', app: 'web', 'webhook-url': receiver.url }), env('quiet')), 'deploy', new MemoryReporter());
    await withHook.finished({ ...rolledBack, result: 'deployed', reason: undefined });
    expect({ requests: gh.requests.length, messages: receiver.messages.length }).toEqual(before);
  });
});

describe('withAnnouncements', () => {
  const config = () => parseConfig('deploy', new MapSource({ manifests: 'k8s', app: 'web', 'github-token': 'tok', 'webhook-url': receiver.url }), env('wrapped'));

  it('passes the outcome through and announces it', async () => {
    const cluster = new FakeCluster();
    const before = receiver.messages.length;
    const outcome = await withAnnouncements(config(), 'deploy', cluster, new MemoryReporter(), async () => ({ result: 'failed', revision: 2, changed: [], reason: 'Deployment/web: ImagePullBackOff', timings: { totalMs: 1 } }));
    expect(outcome.result).toBe('failed');
    expect(receiver.messages.slice(before).map((m) => m.body.text)).toEqual(['❌ default/web: Failed: Deployment/web: ImagePullBackOff']);
    expect(gh.deployments('acme', 'wrapped').at(-1)!.statuses.map((s) => s.state)).toEqual(['in_progress', 'failure']);
  });

  it('announces a command that throws as failed, and rethrows its error', async () => {
    const error = new GantryError('default/web has a canary rollout in progress');
    await expect(withAnnouncements(config(), 'deploy', new FakeCluster(), new MemoryReporter(), () => Promise.reject(error))).rejects.toBe(error);
    expect(gh.deployments('acme', 'wrapped').at(-1)!.statuses.map((s) => [s.state, s.description])).toEqual([['in_progress', 'Gantry deploy of default/web'], ['error', 'Failed: default/web has a canary rollout in progress']]);
  });
});
