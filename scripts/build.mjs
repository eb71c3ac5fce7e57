// Compiles the CLI to lib/ so `npx skill-optimizer` works right after `npm ci`.
// Dependencies stay external: the Claude Code binary must resolve from node_modules.
import { build } from 'esbuild';

await build({
  entryPoints: ['src/cli/main.ts'],
  outdir: 'lib/cli',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning',
});
