// Compiles the CLI and the GitHub App to lib/ so they run right after `npm ci`:
//   lib/cli/main.js   — `npx skill-optimizer` (bin/skill-optimizer.js)
//   lib/app/index.js  — `probot run ./lib/app/index.js` (the App's default export)
// Dependencies stay external: the Claude Code binary must resolve from node_modules, and probot
// loads the App next to its own copy of @octokit.
// Splitting keeps each `import()` a separate chunk: without it esbuild hoists the imports of a
// lazily loaded command into main.js, and `--help` would load every SDK again.
import { build } from 'esbuild';

await build({
  entryPoints: [
    { in: 'src/cli/main.ts', out: 'cli/main' },
    { in: 'src/app/index.ts', out: 'app/index' },
  ],
  outdir: 'lib',
  bundle: true,
  platform: 'node',
  format: 'esm',
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning',
});
