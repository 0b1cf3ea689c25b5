// Makes docs/summary.png, the picture of a rollout summary in the README, from a real run:
// on the local stack the deploy and promote actions' bundles run as the Actions runner runs
// them (inputs as INPUT_*, the summary written to GITHUB_STEP_SUMMARY): v1 is deployed, v2
// goes out as a canary that the judge passes and a later run promotes, and a version that is
// only slower is failed by the judge and rolled back. That last summary is rendered the way
// GitHub shows one — markdown to HTML with `marked`, the ```mermaid charts drawn in the page
// by `mermaid` from node_modules — and photographed by headless Chromium (Debian's).
//
//   node scripts/summary-screenshot.mjs                      # the run, then the picture
//   node scripts/summary-screenshot.mjs --from summary.md    # a summary you already have
//   options: --out docs/summary.png, --keep (keep the namespace), --width 1000
//
// Needs `npm run build`, the stack up (`npm run stack:up`) and `apt-get install chromium`.
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Marked } from 'marked';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, fallback) => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? process.argv[at + 1] : fallback;
};
const out = resolve(arg('out', join(root, 'docs/summary.png')));
const width = Number(arg('width', '1000'));
const say = (line) => process.stdout.write(`\n== ${line}\n`);

// ---------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------

/** The stack's environment (KUBECONFIG, GANTRY_PROMETHEUS_URL, …) as `stack.sh up` wrote it. */
function stackEnv() {
  const file = join(process.env.GANTRY_STACK_DIR ?? join(homedir(), '.cache/gantry/stack'), 'env');
  if (!existsSync(file)) throw new Error(`${file} not found: start the stack first (npm run stack:up)`);
  const env = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^(?:export\s+)?([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) env[m[1]] = m[2].replace(/^(['"])(.*)\1$/, '$2');
  }
  return env;
}

const NS = 'gantry-summary';
const REPO = 'localhost:5000/gantry/sample-app';

async function digestOf(tag) {
  const res = await fetch(`http://127.0.0.1:5000/v2/gantry/sample-app/manifests/${tag}`, { method: 'HEAD', headers: { Accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json' } });
  const digest = res.headers.get('docker-content-digest');
  if (!res.ok || !digest) throw new Error(`the registry has no sample-app:${tag} (HTTP ${res.status}); is the stack up?`);
  return `${REPO}@${digest}`;
}

/** A workspace with the sample app's manifests, its pods answering `latencyMs` slower, as a version that is only slower would ship. */
function workspace(latencyMs) {
  const ws = mkdtempSync(join(tmpdir(), 'gantry-summary-ws-'));
  mkdirSync(join(ws, 'k8s'));
  for (const f of readdirSync(join(root, 'test/app/k8s'))) copyFileSync(join(root, 'test/app/k8s', f), join(ws, 'k8s', f));
  const file = join(ws, 'k8s/deployment.yaml');
  writeFileSync(file, readFileSync(file, 'utf8').replace(/^( {8}image: .*)$/m, `$1\n        env:\n        - {name: LATENCY_MS, value: "${latencyMs}"}`));
  return ws;
}

let runId = 4100;
/** One action step: dist/<action>/index.js with the inputs, as the runner runs it; returns its outputs and job summary. */
async function step(action, inputs, env, ws) {
  const dir = mkdtempSync(join(tmpdir(), `gantry-summary-${action}-`));
  const files = { GITHUB_OUTPUT: 'output', GITHUB_STATE: 'state', GITHUB_STEP_SUMMARY: 'summary', GITHUB_ENV: 'env' };
  const childEnv = { ...process.env, ...env, GITHUB_ACTIONS: 'true', RUNNER_TEMP: dir, GITHUB_WORKSPACE: ws, GITHUB_RUN_ID: String(++runId), GITHUB_RUN_ATTEMPT: '1', GITHUB_JOB: action, GITHUB_REPOSITORY: 'acme/shop', GITHUB_SERVER_URL: 'https://github.com', GITHUB_SHA: `c0ffee${runId}` };
  for (const [k, f] of Object.entries(files)) {
    childEnv[k] = join(dir, f);
    writeFileSync(childEnv[k], '');
  }
  for (const [k, v] of Object.entries(inputs)) childEnv[`INPUT_${k.toUpperCase()}`] = v;
  const code = await new Promise((done) => {
    const child = spawn(process.execPath, [join(root, 'dist', action, 'index.js')], { env: childEnv, cwd: ws, stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout.on('data', (d) => process.stdout.write(String(d).split('\n').filter((l) => /rollout .* r\d+:|gate |::error/.test(l)).map((l) => `  ${l}\n`).join('')));
    child.on('close', (c) => done(c ?? 1));
  });
  // core.setOutput writes `name<<DELIMITER`, the value, then the delimiter.
  const result = /^result<<(.+)\n([\s\S]*?)\n\1$/m.exec(readFileSync(childEnv.GITHUB_OUTPUT, 'utf8'))?.[2];
  return { code, result, summary: readFileSync(childEnv.GITHUB_STEP_SUMMARY, 'utf8') };
}

/**
 * Two clients asking the app all along, as users would: the judge compares what both versions
 * answered. A new connection per request, as curl makes: the Service balances connections, and
 * a kept-alive one would stay with a stable pod and never reach the canary.
 */
function traffic(kubectl) {
  const ip = kubectl(['-n', NS, 'get', 'svc', 'sample-app', '-o', 'jsonpath={.spec.clusterIP}']);
  let on = true;
  const ask = () => new Promise((done) => {
    const req = get({ host: ip, path: '/version', agent: false, timeout: 2000 }, (res) => res.resume().on('end', () => done(true)));
    req.on('timeout', () => req.destroy());
    req.on('error', () => setTimeout(() => done(false), 200));
  });
  const client = async () => {
    while (on) await ask();
  };
  const clients = [client(), client()];
  return async () => {
    on = false;
    await Promise.all(clients);
  };
}

async function realRun() {
  const env = stackEnv();
  const kubectl = (args) => execFileSync('kubectl', args, { env: { ...process.env, ...env }, encoding: 'utf8' }).trim();
  if (!existsSync(join(root, 'dist/deploy/index.js'))) throw new Error('dist/ is missing: npm run build');
  kubectl(['delete', 'namespace', NS, '--ignore-not-found', '--wait=true']);
  kubectl(['create', 'namespace', NS]);
  const [v1, v2] = [await digestOf('v1'), await digestOf('v2')];
  const common = { namespace: NS, app: 'sample-app', manifests: 'k8s', timeout: '2m', 'prometheus-url': env.GANTRY_PROMETHEUS_URL, 'environment-url': 'https://shop.example.com' };
  // The judged canary step of scripts/demo.sh.
  const judged = readFileSync(join(root, 'test/fixtures/rollouts/judged-steps.yaml'), 'utf8').split('\n').filter((l) => !l.startsWith('#')).join('\n');
  const summaries = join(root, '.tmp/summary');
  mkdirSync(summaries, { recursive: true });
  let stop;
  try {
    say(`deploy v1: ${v1}`);
    const first = await step('deploy', { ...common, images: `${REPO}=${v1}` }, env, workspace(20));
    if (first.result !== 'deployed') throw new Error(`v1: ${first.result}`);
    stop = traffic(kubectl);
    say('v2 as a canary at 50 %, judged against stable, paused; then promoted from another run');
    const paused = await step('deploy', { ...common, images: `${REPO}=${v2}`, strategy: 'canary', steps: `${judged}\n- pause: {}` }, env, workspace(20));
    if (paused.result !== 'paused') throw new Error(`v2: ${paused.result}`);
    const promoted = await step('promote', { namespace: NS, app: 'sample-app', timeout: '2m', 'environment-url': common['environment-url'] }, env, workspace(20));
    if (promoted.result !== 'deployed') throw new Error(`promote: ${promoted.result}`);
    writeFileSync(join(summaries, 'promoted.md'), promoted.summary);
    say('v2 again, 60 ms slower: the judge fails it and it is rolled back');
    const slower = await step('deploy', { ...common, images: `${REPO}=${v2}`, strategy: 'canary', steps: judged }, env, workspace(80));
    if (slower.result !== 'rolled-back') throw new Error(`the slower version: ${slower.result}`);
    writeFileSync(join(summaries, 'rolled-back.md'), slower.summary);
    say(`summaries in ${summaries}`);
    return slower.summary;
  } finally {
    await stop?.();
    if (!process.argv.includes('--keep')) kubectl(['delete', 'namespace', NS, '--wait=false']);
  }
}

// ---------------------------------------------------------------------------------------
// The picture
// ---------------------------------------------------------------------------------------

const escape = (text) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The summary as GitHub shows it: GitHub-flavoured markdown, mermaid blocks as diagrams. */
function html(markdown) {
  const marked = new Marked({ gfm: true });
  marked.use({ renderer: { code: ({ text, lang }) => (lang === 'mermaid' ? `<pre class="mermaid">${escape(text)}</pre>\n` : false) } });
  const mermaid = readFileSync(join(root, 'node_modules/mermaid/dist/mermaid.min.js'), 'utf8');
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>rendering</title>
<style>
  body { margin: 0; background: #fff; font: 14px/1.5 -apple-system, "Segoe UI", "Noto Sans", Helvetica, Arial, sans-serif, "Noto Color Emoji"; color: #1f2328; }
  main { box-sizing: border-box; width: ${width}px; padding: 16px 24px; border: 1px solid #d1d9e0; border-radius: 6px; margin: 8px; }
  h3 { font-size: 1.25em; margin: 8px 0 12px; } h4 { font-size: 1em; margin: 20px 0 8px; }
  table { border-collapse: collapse; margin: 8px 0; display: block; overflow: auto; }
  th, td { border: 1px solid #d1d9e0; padding: 4px 10px; vertical-align: top; } th { background: #f6f8fa; font-weight: 600; }
  tr:nth-child(2n) td { background: #f6f8fa; }
  code { background: #eff1f3; border-radius: 4px; padding: 1px 4px; font: 12px ui-monospace, "DejaVu Sans Mono", monospace; }
  pre:not(.mermaid) { background: #f6f8fa; padding: 12px; overflow: auto; font: 12px ui-monospace, "DejaVu Sans Mono", monospace; }
  pre.mermaid { margin: 8px 0; display: inline-block; width: 48%; vertical-align: top; }
  sub { color: #59636e; } details { margin: 8px 0; } summary { cursor: pointer; }
  a { color: #0969da; text-decoration: none; }
</style></head>
<body><main>${marked.parse(markdown)}</main>
<script>${mermaid}</script>
<script>
  mermaid.initialize({ startOnLoad: false, theme: 'default', xyChart: { width: ${Math.floor((width - 80) / 2)}, height: 300 } });
  mermaid.run().then(
    () => { document.title = 'height:' + Math.ceil(document.querySelector('main').getBoundingClientRect().bottom + 8); },
    (err) => { document.title = 'error:' + err; });
</script></body></html>`;
}

function chromium(args) {
  return execFileSync('chromium', ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--force-device-scale-factor=1', '--virtual-time-budget=15000', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
}

function screenshot(markdown) {
  const dir = mkdtempSync(join(tmpdir(), 'gantry-summary-html-'));
  const page = join(dir, 'summary.html');
  writeFileSync(page, html(markdown));
  // First pass: let mermaid draw, and read how tall the page is from its title.
  const title = /<title>([^<]*)<\/title>/.exec(chromium([`--window-size=${width + 16},2000`, '--dump-dom', `file://${page}`]))?.[1] ?? '';
  if (!title.startsWith('height:')) throw new Error(`the page did not render: ${title}`);
  const height = Number(title.slice('height:'.length));
  mkdirSync(dirname(out), { recursive: true });
  chromium([`--window-size=${width + 16},${height}`, `--screenshot=${out}`, `file://${page}`]);
  rmSync(dir, { recursive: true, force: true });
  say(`wrote ${out} (${width + 16}×${height})`);
}

const from = arg('from');
screenshot(from ? readFileSync(from, 'utf8') : await realRun());
