import { execFile } from 'node:child_process';
import { access, constants, lstat, readlink, realpath } from 'node:fs/promises';
import { basename, dirname, sep } from 'node:path';
import { promisify } from 'node:util';

const BWRAP_CANDIDATES = ['/usr/bin/bwrap', '/usr/local/bin/bwrap', '/bin/bwrap'];
/** Mounted read-only when they are directories, recreated when they are symlinks (merged /usr). */
const SYSTEM_DIRS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];
/** The part of /etc that dynamic linking, user lookup and Debian alternatives need. */
const ETC_ENTRIES = [
  '/etc/alternatives',
  '/etc/group',
  '/etc/hosts',
  '/etc/ld.so.cache',
  '/etc/ld.so.conf',
  '/etc/ld.so.conf.d',
  '/etc/localtime',
  '/etc/nsswitch.conf',
  '/etc/os-release',
  '/etc/passwd',
];

export const BWRAP_INSTALL_HINT =
  'install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap); on Ubuntu 24.04 also run ' +
  '`sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`';

/** What every bubblewrap run needs from the host, read once. */
export interface HostLayout {
  bwrapPath: string;
  /** Options this bwrap version supports beyond the baseline (e.g. `--disable-userns`, 0.8+). */
  extraOptions: string[];
  nodePath: string;
  nodeBinDir: string;
  /** System dirs, minimal /etc and the node install, all read-only. */
  mountArgs: string[];
}

async function lstatIfExists(path: string) {
  try {
    return await lstat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

async function findBwrap(): Promise<string | null> {
  for (const candidate of BWRAP_CANDIDATES) {
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'EACCES') throw error;
    }
  }
  return null;
}

async function extraOptions(bwrapPath: string): Promise<string[]> {
  const { stdout } = await promisify(execFile)(bwrapPath, ['--help'], { env: {} });
  return stdout.includes('--disable-userns') ? ['--disable-userns'] : [];
}

async function systemMountArgs(): Promise<{ args: string[]; dirs: string[] }> {
  const args: string[] = [];
  const dirs: string[] = [];
  for (const dir of SYSTEM_DIRS) {
    const info = await lstatIfExists(dir);
    if (info?.isSymbolicLink()) args.push('--symlink', await readlink(dir), dir);
    else if (info?.isDirectory()) {
      args.push('--ro-bind', dir, dir);
      dirs.push(dir);
    }
  }
  for (const entry of ETC_ENTRIES) {
    // Follows symlinks: /etc/localtime and /etc/os-release usually are ones.
    if ((await lstatIfExists(entry)) !== null) args.push('--ro-bind', entry, entry);
  }
  return { args, dirs };
}

/** The node install to mount, unless it already lives under a mounted system dir. */
function nodeMountArgs(nodePath: string, mountedDirs: string[]): string[] {
  if (mountedDirs.some((dir) => nodePath.startsWith(dir + sep))) return [];
  const binDir = dirname(nodePath);
  // A versioned install (…/node/<v>/bin/node): mount its prefix so its lib/ resolves too.
  const prefix = basename(binDir) === 'bin' ? dirname(binDir) : binDir;
  const mount = prefix === dirname(prefix) ? binDir : prefix;
  return ['--ro-bind', mount, mount];
}

/** Reads the host layout, or says why bubblewrap cannot be used (with the fix). */
export async function discoverHostLayout(): Promise<HostLayout | string> {
  const bwrapPath = await findBwrap();
  if (bwrapPath === null) {
    return `bwrap not found in ${BWRAP_CANDIDATES.join(', ')}: ${BWRAP_INSTALL_HINT}`;
  }
  const system = await systemMountArgs();
  const nodePath = await realpath(process.execPath);
  return {
    bwrapPath,
    extraOptions: await extraOptions(bwrapPath),
    nodePath,
    nodeBinDir: dirname(nodePath),
    mountArgs: [...system.args, ...nodeMountArgs(nodePath, system.dirs)],
  };
}
