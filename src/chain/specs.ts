import { stringify } from 'yaml';
import { InvalidFileError } from '../errors.js';
import type { RunStore } from '../store/port.js';
import { parseYaml, validateParsed } from '../text/yaml-file.js';
import { RUN_FILES } from './catalog.js';
import { type SpecFile, specFile } from './reports.js';

/**
 * `tests/<functionality>/spec.yaml`: what step 3 proposes and humans pick (docs/chain.md). The
 * file is state: humans may edit it or flip `picked`, so it is read back strictly (file, field
 * and line named on any error) and rewritten only where a step must.
 */

export const SPEC_NAME = 'spec.yaml';

const SPEC_PATH = new RegExp(`^${RUN_FILES.tests}/([^/]+)/${SPEC_NAME.replace('.', '\\.')}$`);

export function specPath(functionality: string): string {
  return `${RUN_FILES.tests}/${functionality}/${SPEC_NAME}`;
}

/** A probe folder, run-dir relative; its suite id is `<functionality>/<probe>`. */
export function probeDir(probeId: string): string {
  return `${RUN_FILES.tests}/${probeId}`;
}

export function probeIdOf(functionality: string, probe: string): string {
  return `${functionality}/${probe}`;
}

/** A spec as stored: its path, its text as committed (comments and all) and its parsed value. */
export interface StoredSpec {
  path: string;
  text: string;
  spec: SpecFile;
}

/** Parses one spec.yaml; the functionality must match its folder's name. */
export function parseSpec(text: string, path: string, file = path): SpecFile {
  const spec = validateParsed(specFile, parseYaml(text, file), file);
  const folder = SPEC_PATH.exec(path)?.[1];
  if (folder !== undefined && spec.functionality !== folder) {
    throw new InvalidFileError(
      file,
      `functionality: '${spec.functionality}' must match its folder name '${folder}'`,
    );
  }
  const seen = new Set<string>();
  for (const [index, probe] of spec.probes.entries()) {
    if (seen.has(probe.id)) {
      throw new InvalidFileError(file, `probes[${index}].id: '${probe.id}' is listed twice`);
    }
    seen.add(probe.id);
  }
  return spec;
}

/** Every `tests/<f>/spec.yaml` of the run, validated, sorted by functionality id. */
export async function readSpecFiles(store: RunStore): Promise<StoredSpec[]> {
  const paths = (await store.list(RUN_FILES.tests)).filter((p) => SPEC_PATH.test(p));
  const out: StoredSpec[] = [];
  for (const path of paths) {
    const text = await store.read(path);
    if (text === null) continue;
    out.push({ path, text, spec: parseSpec(text, path, `${store.runDir}/${path}`) });
  }
  return out.sort((a, b) => a.spec.functionality.localeCompare(b.spec.functionality));
}

/** The validated specs of the run, sorted by functionality id. */
export async function readSpecs(store: RunStore): Promise<SpecFile[]> {
  return (await readSpecFiles(store)).map((s) => s.spec);
}

/** By priority (1 first), then functionality id. */
export function byPriority(
  a: Pick<SpecFile, 'functionality' | 'priority'>,
  b: Pick<SpecFile, 'functionality' | 'priority'>,
): number {
  return a.priority - b.priority || a.functionality.localeCompare(b.functionality);
}

const SPEC_HEADER = [
  '# Proposed by skill-optimizer step 3 (design-tests). Set `picked: true` here, or run',
  '# `skill-optimizer pick <functionality>`, to have step 4 write this functionality’s probes.',
  '# Edits are kept: later design runs never rewrite a picked spec.',
].join('\n');

/** A new spec file's text, validated before it is rendered. */
export function renderSpec(spec: SpecFile): string {
  return `${SPEC_HEADER}\n${stringify(specFile.parse(spec), { lineWidth: 0 })}`;
}
