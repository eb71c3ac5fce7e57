import { openRecordingFile } from '../model/recording/file.js';
import { startRecordingProxy } from '../model/recording/proxy.js';

/**
 * `--record FILE` at the edge: a recording proxy in front of the model API whose exchanges are
 * appended to FILE when the command's model access closes.
 */
export async function startRecorder(
  path: string,
  upstreamBaseURL: string,
  log: ((line: string) => void) | undefined,
): Promise<{ url: string; close(): Promise<void> }> {
  const file = await openRecordingFile(path);
  const proxy = await startRecordingProxy({ upstreamBaseURL });
  return {
    url: proxy.url,
    async close() {
      await proxy.close();
      const { written, skipped } = await file.append(proxy.exchanges);
      const left =
        skipped === 0 ? '' : ` (${skipped} answers the script format cannot hold left out)`;
      log?.(`recorded ${written} model exchanges to ${path}${left}`);
    },
  };
}
