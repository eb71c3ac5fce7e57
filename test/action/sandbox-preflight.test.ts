import { describe, expect, it } from 'vitest';
import {
  ensureBubblewrap,
  type HostCommands,
  USERNS_SYSCTL,
} from '../../src/action/sandbox-preflight.js';
import { SandboxUnavailableError } from '../../src/bench/sandbox/index.js';

/** A fake ubuntu-24.04 runner: records each command, answers like the real machine would. */
function fakeRunner(machine: {
  bwrapInstalled: boolean;
  restricted: boolean;
  sudoWorks?: boolean;
}) {
  const ran: string[] = [];
  const host: HostCommands = {
    async run(argv) {
      ran.push(argv.join(' '));
      if (argv[0] === 'sudo' && machine.sudoWorks === false) {
        return { exitCode: 1, output: 'sudo: a password is required' };
      }
      if (argv.join(' ') === 'bwrap --version') {
        return machine.bwrapInstalled
          ? { exitCode: 0, output: 'bubblewrap 0.9.0' }
          : { exitCode: 127, output: 'bwrap: not found' };
      }
      if (argv.join(' ').endsWith('apt-get install -y -qq --no-install-recommends bubblewrap')) {
        machine.bwrapInstalled = true;
      }
      if (argv.join(' ') === `sysctl -n ${USERNS_SYSCTL}`) {
        return { exitCode: 0, output: machine.restricted ? '1\n' : '0\n' };
      }
      if (argv.join(' ') === `sudo -n sysctl -w ${USERNS_SYSCTL}=0`) machine.restricted = false;
      return { exitCode: 0, output: '' };
    },
  };
  const probe = async () => {
    ran.push('probe');
    if (!machine.bwrapInstalled) return 'bwrap not found in /usr/bin/bwrap';
    if (machine.restricted) return 'bwrap cannot start a sandbox here (setting up uid map)';
    return null;
  };
  return { host, probe, ran };
}

const log = () => undefined;

describe('sandbox preflight', () => {
  it('on a fresh GitHub-hosted ubuntu-24.04 runner: installs bwrap, lifts the userns restriction, probes', async () => {
    const runner = fakeRunner({ bwrapInstalled: false, restricted: true });
    await ensureBubblewrap({ ...runner, runnerEnvironment: 'github-hosted', log });
    expect(runner.ran).toEqual([
      'probe',
      'bwrap --version',
      'sudo -n apt-get update -qq',
      'sudo -n apt-get install -y -qq --no-install-recommends bubblewrap',
      `sysctl -n ${USERNS_SYSCTL}`,
      `sudo -n sysctl -w ${USERNS_SYSCTL}=0`,
      'probe',
    ]);
  });

  it('changes nothing when bubblewrap already starts', async () => {
    const runner = fakeRunner({ bwrapInstalled: true, restricted: false });
    await ensureBubblewrap({ ...runner, runnerEnvironment: 'github-hosted', log });
    expect(runner.ran).toEqual(['probe']);
  });

  it('only lifts the restriction when the package is there already', async () => {
    const runner = fakeRunner({ bwrapInstalled: true, restricted: true });
    await ensureBubblewrap({ ...runner, runnerEnvironment: 'github-hosted', log });
    expect(runner.ran).toEqual([
      'probe',
      'bwrap --version',
      `sysctl -n ${USERNS_SYSCTL}`,
      `sudo -n sysctl -w ${USERNS_SYSCTL}=0`,
      'probe',
    ]);
  });

  it('never changes a self-hosted runner: fails naming the fix', async () => {
    const runner = fakeRunner({ bwrapInstalled: false, restricted: true });
    const ready = ensureBubblewrap({ ...runner, runnerEnvironment: 'self-hosted', log });
    await expect(ready).rejects.toBeInstanceOf(SandboxUnavailableError);
    await expect(ready).rejects.toThrow(/install bubblewrap .*sandbox: process/);
    expect(runner.ran).toEqual(['probe']);
  });

  it('fails the job when sudo is refused, naming the command', async () => {
    const runner = fakeRunner({ bwrapInstalled: false, restricted: true, sudoWorks: false });
    const ready = ensureBubblewrap({ ...runner, runnerEnvironment: 'github-hosted', log });
    await expect(ready).rejects.toThrow(
      /`sudo -n apt-get update -qq` failed with exit code 1: sudo: a password is required/,
    );
  });

  it('fails the job when bwrap still cannot start after the setup', async () => {
    const runner = fakeRunner({ bwrapInstalled: true, restricted: false });
    const ready = ensureBubblewrap({
      ...runner,
      probe: async () => 'bwrap cannot start a sandbox here (Operation not permitted)',
      runnerEnvironment: 'github-hosted',
      log,
    });
    await expect(ready).rejects.toThrow(
      /still cannot start .*Operation not permitted.*sandbox: process/,
    );
  });
});
