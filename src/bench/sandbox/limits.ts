/**
 * Wraps argv so it runs under resource limits set by the shell's `ulimit`, which works the same
 * inside bubblewrap and in a plain child process, with no extra binary:
 * - memory as RLIMIT_DATA (`-d`, KiB): counts heap and private writable mappings but not the
 *   large PROT_NONE reservations V8 and WebAssembly make, which an address-space limit (`-v`)
 *   would break (node's fetch fails under `ulimit -v`);
 * - CPU seconds (`-t`): one second more than the wall-clock limit, a backstop for the timer;
 * - file size (`-f`, 512-byte blocks, RLIMIT_FSIZE): no single file larger than the disk cap;
 * - processes (RLIMIT_NPROC: `-u` in bash, `-p` in dash), only when `maxProcesses` is given. The
 *   kernel counts every process of the real user and ignores the limit for root, so it is set
 *   only inside bubblewrap's user namespace; the outside watch caps the count in every mode.
 */
export function withResourceLimits(
  argv: string[],
  limits: {
    memoryMb: number;
    timeoutMs: number;
    maxDiskMb: number;
    maxProcesses?: number;
    /** CPU seconds; default one more than the wall-clock limit. */
    cpuSeconds?: number;
  },
): string[] {
  const memoryKb = Math.max(1, Math.floor(limits.memoryMb * 1024));
  const cpuSeconds = limits.cpuSeconds ?? Math.ceil(limits.timeoutMs / 1000) + 1;
  const fileBlocks = Math.max(1, Math.floor((limits.maxDiskMb * 1024 * 1024) / 512));
  const steps = [`ulimit -d ${memoryKb}`, `ulimit -t ${cpuSeconds}`, `ulimit -f ${fileBlocks}`];
  if (limits.maxProcesses !== undefined) {
    const n = Math.floor(limits.maxProcesses);
    steps.push(`{ ulimit -u ${n} 2>/dev/null || ulimit -p ${n}; }`);
  }
  const script = `${steps.join(' && ')} && exec "$@"`;
  return ['/bin/sh', '-c', script, 'sandbox', ...argv];
}
