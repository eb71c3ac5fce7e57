// Bundles the GitHub Action (src/action/main.ts) into one file, dist/index.js, committed to the
// repository so `uses: <owner>/skill-optimizer@<sha>` runs without `npm ci`.
//   node scripts/build-action.mjs [outfile]     (default dist/index.js)
// Everything is bundled, the Claude Code agent SDK's JavaScript included; its per-platform native
// binary (hundreds of MB) cannot be, so the Action installs the pinned agent with npm when a run
// first needs the `claude-code` runner (src/action/claude-code-install.ts) and passes its path.
// prompts/ is read at run time from the Action's checkout (src/prompts/render.ts walks up to it).
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outfile = resolve(process.argv[2] ?? resolve(root, 'dist/index.js'));

await build({
  absWorkingDir: root,
  entryPoints: ['src/action/main.ts'],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // Bundled CommonJS dependencies call require(); ESM output has none of its own.
  banner: {
    js: "import { createRequire as __soCreateRequire } from 'node:module'; const require = __soCreateRequire(import.meta.url);",
  },
  legalComments: 'none',
  logLevel: 'warning',
});
