// Settings of the tools a run may install (shared/tools.ts): `<tool>` (a path), `<tool>-version`
// and `<tool>-base-url`, for kubectl and helm. Any action that renders manifests reads them here.
import { OFFICIAL_TOOLS, type ToolName, type ToolSettings } from '../shared/tools.js';
import type { Reader } from './source.js';

export const TOOL_SETTINGS = ['kubectl-version', 'kubectl-base-url', 'helm-version', 'helm-base-url'] as const;

/** A release version: 1.33.13 or v1.33.13, with an optional pre-release (1.34.0-rc.1). */
const VERSION = /^v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)$/;

export function parseTool(r: Reader, name: ToolName): ToolSettings {
  const versionText = r.string(`${name}-version`);
  let version: string | undefined;
  if (versionText !== undefined) {
    version = VERSION.exec(versionText.trim())?.[1];
    if (version === undefined) r.problem(`${name}-version`, `must be a release version such as ${OFFICIAL_TOOLS[name].version}, got "${versionText}"`, 'Give an exact version: the download is checked against that release\'s published sha256.');
  }
  const baseUrl = r.string(`${name}-base-url`, OFFICIAL_TOOLS[name].baseUrl)!.trim().replace(/\/+$/, '');
  let protocol: string | undefined;
  try {
    protocol = new URL(baseUrl).protocol;
  } catch {
    // reported below
  }
  if (protocol !== 'https:' && protocol !== 'http:') r.problem(`${name}-base-url`, `must be an http(s) URL, got "${baseUrl}"`, `Give the URL that mirrors ${OFFICIAL_TOOLS[name].baseUrl}, with the same layout.`);
  return { binary: r.string(name), version, baseUrl };
}
