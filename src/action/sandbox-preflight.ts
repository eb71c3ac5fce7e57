import { SandboxUnavailableError } from '../bench/sandbox/index.js';

/**
 * Makes bubblewrap usable before a job runs trials (docs/security.md). GitHub-hosted
 * Ubuntu runners may lack the `bubblewrap` package, and Ubuntu 24.04 forbids unprivileged user
 * namespaces through AppArmor (`kernel.apparmor_restrict_unprivileged_userns=1`), so bwrap cannot
 * start there. On a GitHub-hosted runner (a single-use VM) the preflight installs the package and
 * lifts that restriction with sysctl; on a self-hosted runner it changes nothing on the machine.
 * Either way it then starts a probe sandbox and fails the job, naming the fix, when it cannot.
 */

/** The host commands the preflight runs; tests fake them and assert what would be run. */
export interface HostCommands {
  /** Runs argv (no shell); resolves with its exit code (127 when not found) and its output. */
  run(argv: string[]): Promise<{ exitCode: number; output: string }>;
}

export interface PreflightDeps {
  host: HostCommands;
  /** Starts a probe sandbox: null when bubblewrap works, else why not. */
  probe: () => Promise<string | null>;
  /** `RUNNER_ENVIRONMENT`: `github-hosted` allows changing the machine. */
  runnerEnvironment: string | undefined;
  log: (line: string) => void;
}

export const USERNS_SYSCTL = 'kernel.apparmor_restrict_unprivileged_userns';

const SELF_HOSTED_FIX = `on a self-hosted runner, install bubblewrap (apt-get install bubblewrap) and allow unprivileged user namespaces (\`sudo sysctl -w ${USERNS_SYSCTL}=0\` on Ubuntu 24.04, or an AppArmor profile for /usr/bin/bwrap)`;
const PROCESS_FIX =
  'or, to accept the weaker isolation, set `sandbox: process` in .github/skill-optimizer.yml';

async function sudo(deps: PreflightDeps, argv: string[]): Promise<void> {
  const command = ['sudo', '-n', ...argv];
  deps.log(`sandbox preflight: ${command.join(' ')}`);
  const result = await deps.host.run(command);
  if (result.exitCode !== 0) {
    throw new SandboxUnavailableError(
      `sandbox preflight: \`${command.join(' ')}\` failed with exit code ${result.exitCode}: ${result.output.trim().slice(-500)}. Trials run only in bubblewrap on GitHub Actions; use a GitHub-hosted ubuntu runner where sudo works, ${SELF_HOSTED_FIX}, ${PROCESS_FIX}.`,
    );
  }
}

async function bwrapInstalled(deps: PreflightDeps): Promise<boolean> {
  return (await deps.host.run(['bwrap', '--version'])).exitCode === 0;
}

/** AppArmor restricts unprivileged user namespaces (the knob exists and is `1`). */
async function usernsRestricted(deps: PreflightDeps): Promise<boolean> {
  const result = await deps.host.run(['sysctl', '-n', USERNS_SYSCTL]);
  return result.exitCode === 0 && result.output.trim() === '1';
}

/** Ensures bubblewrap starts here, changing a GitHub-hosted runner if needed; else throws the fix. */
export async function ensureBubblewrap(deps: PreflightDeps): Promise<void> {
  const first = await deps.probe();
  if (first === null) {
    deps.log('sandbox preflight: bubblewrap works');
    return;
  }
  if (deps.runnerEnvironment !== 'github-hosted') {
    throw new SandboxUnavailableError(
      `bubblewrap cannot start on this runner (${first}). Trials run only in bubblewrap on GitHub Actions: ${SELF_HOSTED_FIX}, ${PROCESS_FIX}.`,
    );
  }
  deps.log(`sandbox preflight: bubblewrap cannot start yet (${first}); setting it up`);
  if (!(await bwrapInstalled(deps))) {
    await sudo(deps, ['apt-get', 'update', '-qq']);
    await sudo(deps, ['apt-get', 'install', '-y', '-qq', '--no-install-recommends', 'bubblewrap']);
  }
  if (await usernsRestricted(deps)) await sudo(deps, ['sysctl', '-w', `${USERNS_SYSCTL}=0`]);
  const second = await deps.probe();
  if (second !== null) {
    throw new SandboxUnavailableError(
      `bubblewrap still cannot start after installing it and allowing user namespaces (${second}). Trials run only in bubblewrap on GitHub Actions: run the job on \`ubuntu-24.04\` or \`ubuntu-latest\`, ${SELF_HOSTED_FIX}, ${PROCESS_FIX}.`,
    );
  }
  deps.log('sandbox preflight: bubblewrap works');
}
