// Bundles every entry point in src/entry/ into dist/<name>/index.js with esbuild.
// `node scripts/build.mjs --out DIR` writes elsewhere; the freshness test uses it.
import { build } from 'esbuild';
import { readdirSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, basename, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outIndex = process.argv.indexOf('--out');
const outDir = outIndex > 0 ? resolve(process.argv[outIndex + 1]) : join(root, 'dist');
const entries = readdirSync(join(root, 'src/entry')).filter((f) => f.endsWith('.ts'));

rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
for (const file of entries) {
  const name = basename(file, '.ts');
  await build({
    entryPoints: [join(root, 'src/entry', file)],
    outfile: join(outDir, name, 'index.js'),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    legalComments: 'none',
    logLevel: 'warning',
    // Some dependencies still call require(); give the ESM bundle one.
    banner: {
      js: (name === 'cli' ? '#!/usr/bin/env node\n' : '') +
        "import { createRequire as __gantryCreateRequire } from 'node:module';\nconst require = __gantryCreateRequire(import.meta.url);",
    },
  });
}
// The bundles are ESM; say so next to them, so they load as ESM wherever dist/ is copied.
writeFileSync(join(outDir, 'package.json'), JSON.stringify({ type: 'module' }, null, 2) + '\n');
console.log(`bundled ${entries.length} entry points into ${outDir}`);
