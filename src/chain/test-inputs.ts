import type { RunStore } from '../store/port.js';
import { dataSection } from '../text/sanitize.js';
import { STEPS } from './catalog.js';

/** Inputs shared by the test roles (steps 3–5), read only through these functions. */

export { readFunctionalityReport } from './inputs.js';

export function functionalitySection(report: string): string {
  return dataSection(STEPS.functionality.report, report);
}

const MAX_FILE_CHARS = 40_000;

/** Text files of one folder, relative to it; binary files are named but not shown. */
export async function readFolderTexts(
  store: RunStore,
  dir: string,
): Promise<Array<{ path: string; content: string }>> {
  const paths = await store.list(dir);
  const contents = await Promise.all(paths.map((full) => store.readBytes(full)));
  const out: Array<{ path: string; content: string }> = [];
  for (const [i, full] of paths.entries()) {
    const bytes = contents[i];
    if (bytes === null || bytes === undefined) continue;
    const text = bytes.includes(0) ? '[binary file, not shown]' : bytes.toString('utf8');
    out.push({
      path: full.slice(dir.length + 1),
      content:
        text.length > MAX_FILE_CHARS ? `${text.slice(0, MAX_FILE_CHARS)}\n[truncated]` : text,
    });
  }
  return out;
}
