import type { HostLayout } from './host-layout.js';

/** What one bwrap run mounts beyond the host layout. */
export interface BwrapMounts {
  /** The trial dir: writable, and the working directory. */
  cwd: string;
  readOnlyBinds: string[];
  /** Further writable dirs (e.g. an agent's private HOME); none by default. */
  writableBinds?: string[];
}

/**
 * The bwrap arguments for one run: every namespace unshared (private PID namespace, no
 * network), no capabilities, no nested user namespaces, killed with its parent, system dirs
 * read-only, a private /tmp, the trial dir (and `writableBinds`) the only writable mounts.
 */
export function bwrapArgs(layout: HostLayout, run: BwrapMounts): string[] {
  return [
    '--unshare-all',
    '--unshare-user',
    ...layout.extraOptions,
    '--cap-drop',
    'ALL',
    '--die-with-parent',
    '--new-session',
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    '--tmpfs',
    '/tmp',
    ...layout.mountArgs,
    '--bind',
    run.cwd,
    run.cwd,
    ...(run.writableBinds ?? []).flatMap((path) => ['--bind', path, path]),
    ...run.readOnlyBinds.flatMap((path) => ['--ro-bind', path, path]),
    '--chdir',
    run.cwd,
    '--',
  ];
}
