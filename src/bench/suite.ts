/**
 * Loading a bench suite (`suite.yml`) and its probes (`<probe>/probe.yaml`). The formats:
 *
 * suite.yml
 *   skill: ../vendored-skill   # skill folder, relative to suite.yml; a caller override wins
 *   models: [claude-sonnet-4-6]  # at least one, unless the caller passes models
 *   trials: 3                  # per probe and model (default 3)
 *   concurrency: 4             # trials in flight (default 4)
 *   runner: messages           # messages | claude-code (default messages)
 *   limits: { max_turns: 20, max_output_tokens: 4096, max_total_tokens: 200000, timeout_s: 300 }
 *   probes: [csv-report/sums-column]   # probe folders relative to suite.yml, no `..`, not absolute
 *   grader_dependencies: { fflate: 0.8.3 }   # optional; npm packages graders may import
 *
 * <probe>/probe.yaml
 *   prompt: "..."              # required
 *   description: "..."         # optional, for humans
 *   limits: { max_turns: 10 }  # optional, merged over the suite's limits
 *   tags: [csv]                # optional
 *   heldout: false             # optional; held-out probes are hidden from the analyse/improve steps
 *
 * `max_total_tokens` counts each kind of token at its price in input tokens (cache reads 0.1×,
 * cache writes 1.25×, output 5×; model/usage.ts `pricedTokens`), so a trial's budget is a cost.
 *
 * Each probe folder also holds `workspace/` (the agent's starting files, may be empty) and `grader.mjs`.
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { InvalidFileError, PathEscapeError, SkillOptimizerError } from '../errors.js';
import { describeIssues, parseYaml, validateParsed } from '../text/yaml-file.js';
import { graderDependenciesSchema } from './grader-deps.js';
import type { Probe, ProbeLimits, RunnerName, Suite } from './types.js';

const requiredMessage =
  (expected: string) =>
  (iss: { input?: unknown }): string =>
    iss.input === undefined ? 'is required' : `expected ${expected}`;

const positiveInt = () =>
  z
    .int({ error: requiredMessage('a positive integer') })
    .positive({ error: 'expected a positive integer' });

const nonEmptyString = (what: string) =>
  z
    .string({ error: requiredMessage(what) })
    .trim()
    .min(1, { error: `expected ${what}` });

export const limitsSchema = z.strictObject({
  max_turns: positiveInt(),
  max_output_tokens: positiveInt(),
  max_total_tokens: positiveInt(),
  timeout_s: positiveInt(),
});

export const DEFAULT_LIMITS: ProbeLimits = {
  max_turns: 20,
  max_output_tokens: 4096,
  max_total_tokens: 200_000,
  timeout_s: 300,
};

export const runnerNameSchema = z.enum(['messages', 'claude-code'], {
  error: 'expected one of: messages, claude-code',
});

/** A probe folder relative to the suite folder: `/`-separated, no `..`, not absolute. */
const probePathSchema = nonEmptyString('a probe folder path').refine(
  (p) =>
    !path.posix.isAbsolute(p) &&
    !path.win32.isAbsolute(p) &&
    !p.includes('\\') &&
    path.posix.normalize(p) !== '.' &&
    p.split('/').every((segment) => segment !== '..'),
  { error: "must be a folder inside the suite folder: relative, '/'-separated, without '..'" },
);

export const suiteFileSchema = z.strictObject(
  {
    skill: nonEmptyString('a folder path').optional(),
    models: z
      .array(nonEmptyString('a model id'))
      .min(1, { error: 'list at least one model' })
      .optional(),
    trials: positiveInt().default(3),
    concurrency: positiveInt().default(4),
    runner: runnerNameSchema.default('messages'),
    limits: limitsSchema.partial().default({}),
    probes: z
      .array(probePathSchema, { error: requiredMessage('a list of probe folders') })
      .min(1, { error: 'list at least one probe' })
      .superRefine((probes, ctx) => {
        const seen = new Set<string>();
        probes.forEach((p, i) => {
          const id = path.posix.normalize(p).replace(/\/$/, '');
          if (seen.has(id))
            ctx.addIssue({ code: 'custom', path: [i], message: `'${p}' is listed twice` });
          seen.add(id);
        });
      }),
    grader_dependencies: graderDependenciesSchema.optional(),
  },
  { error: 'expected a YAML mapping' },
);

export const probeFileSchema = z.strictObject(
  {
    prompt: nonEmptyString('a non-empty task prompt'),
    description: z.string({ error: 'expected a string' }).optional(),
    limits: limitsSchema.partial().default({}),
    tags: z.array(nonEmptyString('a tag')).default([]),
    heldout: z.boolean({ error: 'expected true or false' }).default(false),
  },
  { error: 'expected a YAML mapping' },
);

export type SuiteFile = z.output<typeof suiteFileSchema>;
export type ProbeFile = z.output<typeof probeFileSchema>;

export type SuiteOverrides = Partial<
  Pick<Suite, 'models' | 'trials' | 'concurrency' | 'runner' | 'skillDir'>
>;

/** A probe folder lacks a file the bench needs. */
export class IncompleteProbeError extends SkillOptimizerError {
  constructor(
    readonly probe: string,
    readonly missing: string,
    location: string,
  ) {
    super(`probe '${probe}': ${missing} is missing (expected at ${location})`);
  }
}

const overridesSchema = z.strictObject({
  models: z
    .array(nonEmptyString('a model id'))
    .min(1, { error: 'list at least one model' })
    .optional(),
  trials: positiveInt().optional(),
  concurrency: positiveInt().optional(),
  runner: runnerNameSchema.optional(),
  skillDir: nonEmptyString('a folder path').optional(),
});

async function kindOf(p: string): Promise<'file' | 'dir' | 'other' | null> {
  try {
    const s = await stat(p);
    return s.isFile() ? 'file' : s.isDirectory() ? 'dir' : 'other';
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

async function readText(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/**
 * Loads `<dir>/probe.yaml` and checks the folder holds `workspace/` and `grader.mjs`.
 * `dir` is the probe folder, `id` its path relative to the suite folder, `defaults` the suite limits.
 */
export async function loadProbe(dir: string, id: string, defaults: ProbeLimits): Promise<Probe> {
  const file = path.join(dir, 'probe.yaml');
  const text = await readText(file);
  if (text === null) throw new IncompleteProbeError(id, 'probe.yaml', file);
  const data = validateParsed(probeFileSchema, parseYaml(text, file), file);

  const workspaceDir = path.join(dir, 'workspace');
  if ((await kindOf(workspaceDir)) !== 'dir') {
    throw new IncompleteProbeError(id, 'workspace/ (folder)', workspaceDir);
  }
  const graderPath = path.join(dir, 'grader.mjs');
  if ((await kindOf(graderPath)) !== 'file') {
    throw new IncompleteProbeError(id, 'grader.mjs', graderPath);
  }
  return {
    id,
    dir: path.resolve(dir),
    prompt: data.prompt,
    limits: { ...defaults, ...data.limits },
    tags: data.tags,
    heldout: data.heldout,
    workspaceDir: path.resolve(workspaceDir),
    graderPath: path.resolve(graderPath),
  };
}

function isInside(parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith(`..${path.sep}`) && rel !== '..' && !path.isAbsolute(rel));
}

/** Loads suite.yml and every probe it lists. `overrides` (CLI flags, config) win over the file. */
export async function loadSuite(suitePath: string, overrides: SuiteOverrides = {}): Promise<Suite> {
  const checked = overridesSchema.safeParse(overrides);
  if (!checked.success) {
    throw new SkillOptimizerError(
      `invalid bench settings: ${describeIssues(checked.error.issues, null)}`,
    );
  }
  const text = await readText(suitePath);
  if (text === null) throw new InvalidFileError(suitePath, 'suite file not found');
  const file = validateParsed(suiteFileSchema, parseYaml(text, suitePath), suitePath);
  const suiteDir = path.dirname(suitePath);
  const realSuiteDir = await realpath(suiteDir);

  const models = checked.data.models ?? file.models;
  if (models === undefined) {
    throw new InvalidFileError(suitePath, 'models: is required (or pass the models to bench)');
  }
  const skill =
    checked.data.skillDir ??
    (file.skill === undefined ? undefined : path.join(suiteDir, file.skill));
  if (skill === undefined) {
    throw new InvalidFileError(suitePath, 'skill: is required (or pass the skill folder to bench)');
  }
  const limits: ProbeLimits = { ...DEFAULT_LIMITS, ...file.limits };

  const probes: Probe[] = [];
  for (const [index, entry] of file.probes.entries()) {
    const id = path.posix.normalize(entry).replace(/\/$/, '');
    const dir = path.join(suiteDir, ...id.split('/'));
    const kind = await kindOf(dir);
    if (kind !== 'dir') {
      throw new InvalidFileError(
        suitePath,
        `probes[${index}]: probe folder '${id}' ${kind === null ? 'does not exist' : 'is not a folder'} (looked for ${dir})`,
      );
    }
    if (!isInside(realSuiteDir, await realpath(dir))) {
      throw new PathEscapeError(
        `${suitePath}: probes[${index}]: '${id}' resolves outside the suite folder`,
      );
    }
    probes.push(await loadProbe(dir, id, limits));
  }

  const runner: RunnerName = checked.data.runner ?? file.runner;
  return {
    path: path.resolve(suitePath),
    dir: path.resolve(suiteDir),
    skillDir: path.resolve(skill),
    models,
    trials: checked.data.trials ?? file.trials,
    concurrency: checked.data.concurrency ?? file.concurrency,
    runner,
    probes,
    graderDependencies: file.grader_dependencies ?? {},
  };
}
