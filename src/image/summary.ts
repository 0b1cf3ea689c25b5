// How a build's result reaches the user: step outputs (digest, image, tags, metadata)
// and the job summary table.
import { Reporter } from '../report/reporter.js';
import { BuildPushResult, formatSeconds } from './build-push.js';

export interface BuildMetadata {
  image: string | null;
  digest: string | null;
  tags: string[];
  labels: Record<string, string>;
  imageId: string | null;
  pushed: boolean;
  builder: string;
  platforms: string[];
  size: number | null;
  buildSeconds: number;
  pushSeconds: number | null;
}

export function buildMetadata(result: BuildPushResult): BuildMetadata {
  return {
    image: result.image ?? null,
    digest: result.digest ?? null,
    tags: result.tags,
    labels: result.labels,
    imageId: result.imageId ?? null,
    pushed: result.pushed,
    builder: result.builder,
    platforms: result.platforms,
    size: result.size ?? null,
    buildSeconds: round(result.buildMs / 1000),
    pushSeconds: result.pushMs === undefined ? null : round(result.pushMs / 1000),
  };
}

export async function publishResult(result: BuildPushResult, reporter: Reporter): Promise<void> {
  // digest and image stay empty when nothing was pushed: a local image ID is no reference a cluster can pull.
  reporter.setOutput('digest', result.digest ?? '');
  reporter.setOutput('image', result.image ?? '');
  reporter.setOutput('image-id', result.imageId ?? '');
  reporter.setOutput('tags', result.tags.join('\n'));
  reporter.setOutput('metadata', JSON.stringify(buildMetadata(result)));
  await reporter.summary(summaryMarkdown(result));
}

export function summaryMarkdown(result: BuildPushResult): string {
  const rows: [string, string][] = [
    ['Image', result.image ? code(result.image) : `not pushed (${result.imageId ? code(result.imageId) : 'local build'})`],
    ['Tags', result.tags.map(code).join('<br>')],
    ['Digest', result.digest ? code(result.digest) : '—'],
    ['Size', result.size === undefined ? '—' : `${formatBytes(result.size)}${result.pushed ? ' compressed' : ''}`],
    ['Build time', result.pushMs === undefined && result.pushed ? `${formatSeconds(result.buildMs)} (including push)` : formatSeconds(result.buildMs)],
  ];
  if (result.pushMs !== undefined) rows.push(['Push time', formatSeconds(result.pushMs)]);
  if (result.platforms.length > 0) rows.push(['Platforms', result.platforms.join(', ')]);
  return [
    '### Gantry build',
    '',
    '| | |',
    '|---|---|',
    ...rows.map(([k, v]) => `| ${k} | ${v.replace(/\|/g, '\\|')} |`),
    '',
  ].join('\n');
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

function code(text: string): string {
  return `\`${text}\``;
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
