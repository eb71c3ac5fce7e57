import { ruleOfExchange } from '../model/recording/exchange-rule.js';
import { openRecordingFile } from '../model/recording/file.js';
import { startRecordingProxy } from '../model/recording/proxy.js';
import type { Rule } from '../model/scripted/script.js';

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
  const rules: Rule[] = [];
  let skipped = 0;
  const proxy = await startRecordingProxy({
    upstreamBaseURL,
    // Each exchange becomes its rule at once, so its request is not kept.
    onExchange: (exchange) => {
      const rule = ruleOfExchange(exchange, 'recorded');
      if (rule === null) skipped += 1;
      else rules.push(rule);
    },
  });
  return {
    url: proxy.url,
    async close() {
      await proxy.close();
      await file.appendRules(rules);
      const written = rules.length;
      const left =
        skipped === 0 ? '' : ` (${skipped} answers the script format cannot hold left out)`;
      log?.(`recorded ${written} model exchanges to ${path}${left}`);
    },
  };
}
