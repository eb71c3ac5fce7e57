import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    // The long tests run whole chains through child processes: on an idle 2-core machine the
    // slowest takes ~30 s, and six times that load stretched one to 54 s. Two minutes keeps them
    // well clear of their timeout on a busy machine; the audit reporter shows the margin.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Most long tests wait on child processes (git, the CLI, sandboxes, the agent binary), not on
    // a core: three workers on CI's two cores take the suite from ~290 s to ~170 s.
    maxWorkers: 3,
    // The audit lists tests that used more than a third of their timeout (see the reporter).
    reporters: ['default', './test/timeout-audit-reporter.ts'],
  },
});
