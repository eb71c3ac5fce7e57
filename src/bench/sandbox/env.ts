import { delimiter } from 'node:path';

const SYSTEM_PATH = ['/usr/local/bin', '/usr/bin', '/bin'];

/**
 * The whole environment a sandboxed command starts with: nothing inherited from the parent,
 * so no token or key can leak through it. `extra` is caller-vetted and wins over the base.
 */
export function scrubbedEnv(input: {
  home: string;
  nodeBinDir: string;
  extra?: Record<string, string>;
}): Record<string, string> {
  const path = [...new Set([input.nodeBinDir, ...SYSTEM_PATH])].join(delimiter);
  return { PATH: path, HOME: input.home, LANG: 'C.UTF-8', ...input.extra };
}
