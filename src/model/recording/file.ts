import { access, constants, readFile, writeFile } from 'node:fs/promises';
import { dirname, extname } from 'node:path';
import { stringify } from 'yaml';
import { InvalidFileError } from '../../errors.js';
import { redactDeep, redactSecrets } from '../../text/redact.js';
import { parseScript, type Rule, type Script } from '../scripted/script.js';
import { ruleOfExchange } from './exchange-rule.js';
import type { RecordedExchange } from './proxy.js';

/**
 * The `--record` file: a scripted-server script (YAML, or JSON when the name ends in `.json`)
 * that grows by one rule per recorded exchange. Every command given the same file appends to it,
 * so `run` then `approve` then `rerun` make one recording; `--scripted <file>` replays it.
 */

export interface RecordingFile {
  readonly path: string;
  /**
   * Appends the exchanges as rules (redacted) and writes the file; returns how many exchanges the
   * script format could not hold (answers other than a message or a 429/529/500).
   */
  append(exchanges: readonly RecordedExchange[]): Promise<{ written: number; skipped: number }>;
  /** Appends rules made by `ruleOfExchange` under fresh names (redacted) and writes the file. */
  appendRules(rules: readonly Rule[]): Promise<void>;
}

async function readExisting(path: string): Promise<Script | null> {
  let source: string;
  try {
    source = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new InvalidFileError(path, `cannot read the recording: ${(error as Error).message}`);
  }
  return parseScript(source, path);
}

function render(path: string, script: Script): string {
  const text =
    extname(path).toLowerCase() === '.json'
      ? `${JSON.stringify(script, null, 2)}\n`
      : `# Recorded by skill-optimizer --record; replay with --scripted ${path}\n${stringify(script, { lineWidth: 0 })}`;
  return redactSecrets(text);
}

/**
 * Checks up front that the file can be written and, when it exists, that it is a script (a
 * recording to append to), so a long run does not fail only when it saves.
 */
export async function openRecordingFile(path: string): Promise<RecordingFile> {
  await readExisting(path);
  try {
    await access(dirname(path), constants.W_OK);
  } catch (error) {
    throw new InvalidFileError(path, `cannot write the recording: ${(error as Error).message}`);
  }
  const appendRules = async (added: readonly Rule[]): Promise<void> => {
    if (added.length === 0) return;
    const rules: Rule[] = [...((await readExisting(path))?.rules ?? [])];
    const names = new Set(rules.map((r) => r.name));
    for (const rule of added) {
      let n = rules.length + 1;
      while (names.has(`r${String(n).padStart(4, '0')}`)) n += 1;
      const name = `r${String(n).padStart(4, '0')}`;
      names.add(name);
      rules.push(redactDeep({ ...rule, name }));
    }
    await writeFile(path, render(path, { rules }));
  };
  return {
    path,
    appendRules,
    async append(exchanges) {
      const rules = exchanges.map((e) => ruleOfExchange(e, 'recorded'));
      const kept = rules.filter((r): r is Rule => r !== null);
      await appendRules(kept);
      return { written: kept.length, skipped: rules.length - kept.length };
    },
  };
}
