// The webhook message people read in Slack, the headline it starts with, and a webhook
// that fails: it warns without showing its URL and never fails the rollout.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { headline } from '../../src/report/headline.js';
import { notify, notifyEvent, webhookMessage } from '../../src/report/notify.js';
import { MemoryReporter } from '../../src/report/reporter.js';
import type { RolloutOutcome } from '../../src/strategies/basic.js';
import { WebhookReceiver } from '../support/webhook.js';

const target = { namespace: 'prod', app: 'web' };
const outcome = (result: RolloutOutcome['result'], reason?: string): RolloutOutcome => ({ result, revision: 5, previousRevision: 4, changed: [], timings: { totalMs: 1000 }, ...(reason ? { reason } : {}) });

describe('headline', () => {
  it.each([
    ['Deployed r5', outcome('deployed'), {}],
    ['Promoted r5', outcome('deployed'), { command: 'promote' as const }],
    ['Paused at step 2/4 with 25 % — awaiting promote', outcome('paused'), { pausedAt: { step: 2, steps: 4, weight: 25 } }],
    ['Paused r5 — awaiting promote', outcome('paused'), {}],
    ['Rolled back: p95 latency canary 212 ms vs stable 48 ms', outcome('rolled-back', 'p95 latency canary 212 ms vs stable 48 ms\nmore detail'), {}],
    ['Rolled back prod/web to r3 (now r5)', outcome('rolled-back'), { command: 'rollback' as const, restored: 3 }],
    ['Aborted r5', outcome('aborted', 'aborted by https://github.com/acme/web/actions/runs/9'), { command: 'abort' as const }],
    ['Failed: Deployment/web: ImagePullBackOff', outcome('failed', 'Deployment/web: ImagePullBackOff'), {}],
  ])('%s', (expected, o, context) => {
    expect(headline(o, target, context)).toBe(expected);
  });
});

describe('notifyEvent', () => {
  it.each([
    ['rolled-back', 'deploy', 'rollback'],
    ['rolled-back', 'rollback', 'rollback'],
    ['failed', 'deploy', 'failure'],
    ['paused', 'deploy', 'pause'],
    ['deployed', 'promote', 'promotion'],
    ['aborted', 'abort', 'abort'],
    ['deployed', 'deploy', undefined],
  ] as const)('%s after %s: %s', (result, command, event) => {
    expect(notifyEvent(outcome(result), command)).toBe(event);
  });
});

describe('webhookMessage', () => {
  it('is Slack-compatible: a text fallback and blocks with the headline, the evidence and links', () => {
    const m = webhookMessage({
      event: 'rollback', headline: 'Rolled back: Deployment/web: CrashLoopBackOff <web-1>', target,
      reason: 'Deployment/web: CrashLoopBackOff <web-1>\n  Normal Pulled: image present\n  events: Back-off restarting\n  log: panic & exit',
      runUrl: 'https://github.com/acme/web/actions/runs/9', environment: 'production', environmentUrl: 'https://web.example', commit: 'c0ffee'.padEnd(40, '0'),
    });
    expect(m.text).toBe('↩️ prod/web (production): Rolled back: Deployment/web: CrashLoopBackOff <web-1>');
    expect(m.blocks).toEqual([
      { type: 'section', text: { type: 'mrkdwn', text: '↩️ *prod/web (production)*: Rolled back: Deployment/web: CrashLoopBackOff &lt;web-1&gt;\n```  events: Back-off restarting\n  log: panic &amp; exit```' } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: '<https://github.com/acme/web/actions/runs/9|View the run> · <https://web.example|production> · commit `c0ffee000000`' }] },
    ]);
  });
});

describe('notify', () => {
  let receiver: WebhookReceiver;
  beforeAll(async () => {
    receiver = await WebhookReceiver.start();
  });
  afterAll(() => receiver.stop());
  const message = { text: 'Rolled back: boom', blocks: [] };

  it('POSTs the message as JSON', async () => {
    const reporter = new MemoryReporter();
    receiver.answer = 200;
    expect(await notify(receiver.url, message, reporter)).toBe(true);
    expect(receiver.messages.at(-1)).toEqual({ path: '/services/T000/B000/s3cr3tW3bh00k', contentType: 'application/json', body: message });
    expect(reporter.warnings).toEqual([]);
  });

  it.each([
    ['answers an error', 500, /^The webhook answered HTTP 500 Internal Server Error; nobody was notified. The rollout is not affected.$/],
    ['does not answer in time', 'hang' as const, /^The webhook could not be reached \(no answer within 0 s\)/],
  ])('warns without the URL when the webhook %s', async (_name, answer, warning) => {
    const reporter = new MemoryReporter();
    receiver.answer = answer;
    const started = Date.now();
    expect(await notify(receiver.url, message, reporter, { timeoutMs: 300 })).toBe(false);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(reporter.warnings.map((w) => w.message)).toEqual([expect.stringMatching(warning)]);
    expect(JSON.stringify(reporter)).not.toContain('s3cr3t');
  });

  it('warns without the URL when the webhook is unreachable', async () => {
    const reporter = new MemoryReporter();
    // A port that was just free: nothing listens there.
    const closed = await WebhookReceiver.start();
    await closed.stop();
    const url = closed.url;
    expect(await notify(url, message, reporter)).toBe(false);
    expect(reporter.warnings.map((w) => w.message)).toEqual(['The webhook could not be reached (ECONNREFUSED); nobody was notified. The rollout is not affected.']);
    expect(JSON.stringify(reporter)).not.toContain('s3cr3t');
  });
});
