import { stringify } from 'yaml';
import { probeFileSchema, suiteFileSchema } from '../bench/suite.js';
import type { ProbeLimits, RunnerName } from '../bench/types.js';
import { SkillOptimizerError } from '../errors.js';
import type { FileChange } from '../store/port.js';
import { RUN_FILES } from './catalog.js';
import { probeDir } from './specs.js';
import { assertWriteScope } from './write-scope.js';

/**
 * The files of one probe folder (docs/chain.md) as step 4 writes them, and `tests/suite.yml`.
 * The operator, not the writer, owns `probe.yaml`, `grader.mjs`'s location, `smoke/empty/` and
 * the suite; the writer's own files are confined to its areas (see write-scope.ts).
 */

export interface ProbeFileEntry {
  path: string;
  content: string;
  /** `base64`: `content` is the file's bytes base64-encoded (a binary fixture); else UTF-8 text. */
  encoding?: 'utf8' | 'base64' | undefined;
}

/** A writer's file cannot be turned into bytes; the step fails and nothing is written. */
export class InvalidProbeFileError extends SkillOptimizerError {
  constructor(probe: string, path: string, why: string) {
    super(
      `the test writer of probe '${probe}' returned '${path}' with ${why}. Nothing was written.`,
      {
        retry: 'skill-optimizer rerun write-tests',
      },
    );
  }
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The bytes (base64) or text of one entry; base64 must be canonical, line breaks aside. */
function entryContent(probe: string, shown: string, entry: ProbeFileEntry): string | Buffer {
  if (entry.encoding !== 'base64') return entry.content;
  const compact = entry.content.replace(/\s+/g, '');
  if (!BASE64.test(compact)) {
    throw new InvalidProbeFileError(probe, shown, 'encoding base64 but content that is not base64');
  }
  return Buffer.from(compact, 'base64');
}

/** What a test writer produced for one probe. */
export interface ProbeContent {
  prompt: string;
  tags: string[];
  limits?: Partial<ProbeLimits> | undefined;
  workspace_files: ProbeFileEntry[];
  grader_mjs: string;
  smoke_good: ProbeFileEntry[];
  smoke_bad: ProbeFileEntry[];
}

export interface ProbeToWrite {
  functionality: string;
  probe: string;
  /** The probe's intent from its spec; kept in probe.yaml's `description` for humans and step 5. */
  intent: string;
  heldout: boolean;
  content: ProbeContent;
}

/** Git keeps no empty folders: an empty area gets this placeholder so the folder exists. */
const KEEP = '.gitkeep';

/** Throws WriteScopeError (naming probe and path) before any change is produced. */
export function assertProbeScope(id: string, content: ProbeContent): void {
  assertWriteScope(id, 'workspace', content.workspace_files);
  assertWriteScope(id, 'smoke/good', content.smoke_good);
  assertWriteScope(id, 'smoke/bad', content.smoke_bad);
}

function renderProbeYaml(item: ProbeToWrite): string {
  const tags = [...new Set([item.functionality, ...item.content.tags.map((t) => t.trim())])].filter(
    (t) => t !== '',
  );
  const data = probeFileSchema.parse({
    prompt: item.content.prompt,
    description: item.intent,
    limits: item.content.limits ?? {},
    tags,
    heldout: item.heldout,
  });
  const header =
    '# Written by skill-optimizer step 4 (write-tests); `heldout` comes from spec.yaml.';
  // Limits only when the writer set some; the suite's limits apply otherwise.
  const { limits, ...rest } = data;
  const shown = Object.keys(limits).length > 0 ? data : rest;
  return `${header}\n${stringify(shown, { lineWidth: 0 })}`;
}

/**
 * Every change that (re)writes one probe folder: the old folder is deleted first, so a rewritten
 * probe keeps nothing of its previous version. Scope is checked before anything is produced.
 */
export function probeFolderChanges(item: ProbeToWrite): FileChange[] {
  const id = `${item.functionality}/${item.probe}`;
  assertProbeScope(id, item.content);
  const dir = probeDir(id);
  const area = (name: string, files: ProbeFileEntry[]): FileChange[] =>
    files.length === 0
      ? [{ path: `${dir}/${name}/${KEEP}`, content: '' }]
      : files.map((f) => ({
          path: `${dir}/${name}/${f.path}`,
          content: entryContent(id, `${name}/${f.path}`, f),
        }));
  return [
    { path: dir, delete: true },
    { path: `${dir}/probe.yaml`, content: renderProbeYaml(item) },
    { path: `${dir}/grader.mjs`, content: item.content.grader_mjs },
    ...area('workspace', item.content.workspace_files),
    ...area('smoke/good', item.content.smoke_good),
    ...area('smoke/bad', item.content.smoke_bad),
    { path: `${dir}/smoke/empty/${KEEP}`, content: '' },
  ];
}

export interface SuiteSettings {
  models: string[];
  trials: number;
  concurrency: number;
  runner: RunnerName;
  /** Kept from the suite.yml being replaced: a person added them for hand-written graders. */
  graderDependencies?: Record<string, string>;
}

/**
 * `tests/suite.yml` listing the given probe ids (format: the comment atop src/bench/suite.ts).
 * The header names the commit it was generated from, so every run of step 4 changes it.
 */
export function renderSuite(probes: readonly string[], settings: SuiteSettings, head: string) {
  const data = suiteFileSchema.parse({
    skill: `../${RUN_FILES.vendored}`,
    models: settings.models,
    trials: settings.trials,
    concurrency: settings.concurrency,
    runner: settings.runner,
    probes: [...probes].sort(),
    ...(Object.keys(settings.graderDependencies ?? {}).length > 0
      ? { grader_dependencies: settings.graderDependencies }
      : {}),
  });
  const { limits: _defaults, ...shown } = data;
  const header = [
    '# Generated by skill-optimizer step 4 (write-tests) from the picked functionalities;',
    `# regenerated on every run. Derived from work-branch commit ${head.slice(0, 12)}.`,
  ].join('\n');
  return `${header}\n${stringify(shown, { lineWidth: 0 })}`;
}
