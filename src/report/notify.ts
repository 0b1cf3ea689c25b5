// Tells people what they must know without watching the run: a rollback, a failure, a
// promotion, an abort, or a canary paused for a promote. One Slack-compatible message (a
// `text` fallback plus `blocks`) to an incoming webhook. The URL is a secret: it is masked
// and never written to the log. A webhook that fails warns and never fails the rollout.
import type { DeploymentCommand } from './deployments.js';
import type { Reporter } from './reporter.js';
import type { Target } from '../shared/target.js';
import type { RolloutOutcome } from '../strategies/basic.js';

export type NotifyEvent = 'rollback' | 'failure' | 'promotion' | 'pause' | 'abort';

/** The outcomes worth a message; a plain successful deploy is not one of them. */
export function notifyEvent(outcome: RolloutOutcome, command: DeploymentCommand): NotifyEvent | undefined {
  switch (outcome.result) {
    case 'rolled-back':
      return 'rollback';
    case 'failed':
      return 'failure';
    case 'paused':
      return 'pause';
    case 'aborted':
      return 'abort';
    case 'deployed':
      return command === 'promote' ? 'promotion' : undefined;
  }
}

export interface WebhookMessage {
  text: string;
  blocks: Array<Record<string, unknown>>;
}

export interface MessageInput {
  event: NotifyEvent;
  /** headline(): the summary's first line. */
  headline: string;
  target: Target;
  /** The reason in full, when the rollout did not deploy; its first lines go in the message. */
  reason?: string;
  runUrl?: string;
  environment?: string;
  environmentUrl?: string;
  commit?: string;
}

const ICONS: Record<NotifyEvent, string> = { rollback: '↩️', failure: '❌', promotion: '✅', pause: '⏸️', abort: '⏹️' };
/** Lines of the reason after the headline's; the rest is in the run's log. */
const REASON_LINES = 8;
/** Slack refuses a section text over 3000 characters. */
const SECTION_LIMIT = 2900;

export function webhookMessage(m: MessageInput): WebhookMessage {
  const where = `${m.target.namespace}/${m.target.app}${m.environment && m.environment !== m.target.namespace ? ` (${m.environment})` : ''}`;
  const text = `${ICONS[m.event]} ${where}: ${m.headline}`;
  let section = `${ICONS[m.event]} *${escape(where)}*: ${escape(m.headline)}`;
  // The headline carries the reason's first line; further lines are the evidence. Routine pod
  // events (Scheduled, Pulled, Started) would crowd out the warnings and the last log lines.
  const details = (m.reason ?? '').split('\n').slice(1).map((l) => l.trimEnd()).filter((l) => l.trim() !== '' && !/^\s*Normal /.test(l));
  if (details.length > 0) section += `\n\`\`\`${escape(details.slice(0, REASON_LINES).join('\n'))}\`\`\``;
  const links = [
    ...(m.runUrl ? [`<${m.runUrl}|View the run>`] : []),
    ...(m.environmentUrl ? [`<${m.environmentUrl}|${escape(m.environment ?? 'environment')}>`] : []),
    ...(m.commit ? [`commit \`${m.commit.slice(0, 12)}\``] : []),
  ];
  return {
    text,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: section.length > SECTION_LIMIT ? `${section.slice(0, SECTION_LIMIT - 1)}…` : section } },
      ...(links.length ? [{ type: 'context', elements: [{ type: 'mrkdwn', text: links.join(' · ') }] }] : []),
    ],
  };
}

/** Slack's mrkdwn treats these three as markup. */
function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export interface NotifyOptions {
  /** A webhook that has not answered by then is given up on. */
  timeoutMs?: number;
}

/** POSTs the message; true when the webhook took it (2xx). Never throws, never logs the URL. */
export async function notify(url: string, message: WebhookMessage, reporter: Reporter, options: NotifyOptions = {}): Promise<boolean> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(message),
      signal: AbortSignal.timeout(timeoutMs),
    });
    // The body may echo the request; only the status is safe to show.
    await res.body?.cancel();
    if (res.ok) {
      reporter.info(`webhook notified: ${message.text}`);
      return true;
    }
    reporter.warning(`The webhook answered HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}; nobody was notified. The rollout is not affected.`);
  } catch (err) {
    reporter.warning(`The webhook could not be reached (${failure(err, timeoutMs)}); nobody was notified. The rollout is not affected.`);
  }
  return false;
}

/** Why fetch failed, without its message: fetch's messages may quote the URL. */
function failure(err: unknown, timeoutMs: number): string {
  const name = (err as { name?: unknown }).name;
  if (name === 'TimeoutError' || name === 'AbortError') return `no answer within ${Math.round(timeoutMs / 1000)} s`;
  const code = (err as { cause?: { code?: unknown } }).cause?.code;
  return typeof code === 'string' ? code : typeof name === 'string' ? name : 'unknown error';
}
