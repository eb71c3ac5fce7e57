/**
 * Wraps argv so it runs under resource limits set by the shell's `ulimit`, which works the same
 * inside bubblewrap and in a plain child process, with no extra binary:
 * - memory as RLIMIT_DATA (`-d`, KiB): counts heap and private writable mappings but not the
 *   large PROT_NONE reservations V8 and WebAssembly make, which an address-space limit (`-v`)
 *   would break (node's fetch fails under `ulimit -v`);
 * - CPU seconds (`-t`): one second more than the wall-clock limit, a backstop for the timer.
 */
export function withResourceLimits(
  argv: string[],
  limits: { memoryMb: number; timeoutMs: number },
): string[] {
  const memoryKb = Math.max(1, Math.floor(limits.memoryMb * 1024));
  const cpuSeconds = Math.ceil(limits.timeoutMs / 1000) + 1;
  const script = `ulimit -d ${memoryKb} && ulimit -t ${cpuSeconds} && exec "$@"`;
  return ['/bin/sh', '-c', script, 'sandbox', ...argv];
}
