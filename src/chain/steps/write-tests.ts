import { z } from 'zod';
import { graderDependenciesSchema } from '../../bench/grader-deps.js';
import { mapBounded } from '../../bench/pool.js';
import { limitsSchema } from '../../bench/suite.js';
import type { FileChange, RunStore } from '../../store/port.js';
import { dataSection } from '../../text/sanitize.js';
import { parseYaml, validateParsed } from '../../text/yaml-file.js';
import { RUN_FILES, STEPS } from '../catalog.js';
import {
  cleanText,
  directivesSection,
  intentSection,
  readIntent,
  readSkill,
  type SkillSnapshot,
  skillSections,
} from '../inputs.js';
import { type ChainModel, type RolePrompt, renderRolePrompt } from '../model.js';
import { type StepOutcome, StepRefusedError, type StepRun } from '../ports.js';
import { parseProbeDirective } from '../probe-directive.js';
import { type ProbeContent, probeFolderChanges, renderSuite } from '../probe-files.js';
import { byPriority, probeDir, probeIdOf, readSpecs } from '../specs.js';
import { functionalitySection, readFunctionalityReport } from '../test-inputs.js';

/**
 * Step 4 (maintenance): one writer per probe of the picked specs, in parallel. Probes whose
 * folder exists are kept unless a directive `<functionality>/<probe>: …` targets them; a
 * targeted probe is rewritten from scratch (its folder replaced). `tests/suite.yml` is
 * regenerated from every written probe of every picked spec.
 */

export interface PlannedProbe {
  /** `<functionality>/<probe>`, the suite id. */
  id: string;
  functionality: string;
  probe: string;
  responsibility: string;
  intent: string;
  heldout: boolean;
  /** `new`: no folder yet; `directive`: a directive asks for a rewrite. */
  reason: 'new' | 'directive';
  /** Directives aimed at this probe only (prefix removed). */
  directives: string[];
}

export interface BuildPlan {
  /** Picked functionalities, by priority. */
  picked: string[];
  write: PlannedProbe[];
  /** Probes of picked specs whose folder exists and stays as it is. */
  kept: string[];
  /** Directives without a probe prefix: every writer of this run gets them. */
  general: string[];
}

/** The probes to write now and why; refuses when nothing is picked or a directive misses. */
export async function buildPlan(
  store: RunStore,
  directives: readonly string[],
): Promise<BuildPlan> {
  const specs = (await readSpecs(store)).filter((s) => s.picked).sort(byPriority);
  if (specs.length === 0) {
    throw new StepRefusedError(
      'no functionality is picked, so there are no probes to write; pick some first',
      { retry: 'skill-optimizer pick top 3' },
    );
  }
  const known = new Set(
    specs.flatMap((s) => s.probes.map((p) => probeIdOf(s.functionality, p.id))),
  );
  const targeted = new Map<string, string[]>();
  const general: string[] = [];
  for (const directive of directives) {
    const aimed = parseProbeDirective(directive);
    if (aimed === null) {
      general.push(directive);
      continue;
    }
    const { id, text } = aimed;
    if (!known.has(id)) {
      throw new StepRefusedError(
        `the directive '${cleanText(directive).slice(0, 120)}' is aimed at probe '${id}', which is not a probe of a picked functionality (picked probes: ${[...known].join(', ')}); rephrase or drop it`,
      );
    }
    targeted.set(id, [...(targeted.get(id) ?? []), text]);
  }

  const write: PlannedProbe[] = [];
  const kept: string[] = [];
  for (const spec of specs) {
    for (const probe of spec.probes) {
      const id = probeIdOf(spec.functionality, probe.id);
      const exists = await store.exists(`${probeDir(id)}/probe.yaml`);
      const aimed = targeted.get(id) ?? [];
      if (exists && aimed.length === 0) {
        kept.push(id);
        continue;
      }
      write.push({
        id,
        functionality: spec.functionality,
        probe: probe.id,
        responsibility: spec.responsibility,
        intent: probe.intent,
        heldout: probe.heldout,
        reason: exists ? 'directive' : 'new',
        directives: aimed,
      });
    }
  }
  return { picked: specs.map((s) => s.functionality), write, kept, general };
}

const cell = (text: string) => cleanText(text).replace(/\s+/g, ' ').replace(/\|/g, '\\|');

/** The build plan as the human sees it at the build-plan gate. */
export function renderBuildPlan(plan: BuildPlan): string {
  const lines = [
    '### Build plan (step 4, write-tests)',
    '',
    `Picked functionalities: ${plan.picked.map((f) => `\`${f}\``).join(', ')}.`,
    '',
  ];
  if (plan.write.length === 0) lines.push('Nothing to write: every picked probe already exists.');
  else {
    lines.push(
      `One test writer per probe will write ${plan.write.length} probe folder(s):`,
      '',
      '| probe | why | held-out | directives |',
      '| --- | --- | --- | --- |',
      ...plan.write.map(
        (p) =>
          `| \`${p.id}\` | ${p.reason === 'new' ? 'new' : 'rewrite (folder replaced)'} | ${p.heldout ? 'yes' : 'no'} | ${p.directives.length === 0 ? '—' : p.directives.map(cell).join('; ')} |`,
      ),
    );
  }
  if (plan.kept.length > 0) {
    lines.push('', `Kept as they are: ${plan.kept.map((id) => `\`${id}\``).join(', ')}.`);
  }
  if (plan.general.length > 0) {
    lines.push('', 'Directives for every writer:', ...plan.general.map((d) => `- ${cell(d)}`));
  }
  return lines.join('\n');
}

/** Everything one writer may see: no field for other probes, graders or bench results. */
export interface WriteProbeInput {
  functionality: string;
  intent: string;
  skill: SkillSnapshot;
  spec: { functionality: string; responsibility: string };
  probe: { id: string; intent: string };
  generalDirectives: string[];
  probeDirectives: string[];
}

export async function gatherWriteProbeInputs(
  store: RunStore,
  plan: BuildPlan,
): Promise<WriteProbeInput[]> {
  if (plan.write.length === 0) return [];
  const functionality = await readFunctionalityReport(store);
  const skill = await readSkill(store, 'vendored-skill');
  const intent = await readIntent(store);
  return plan.write.map((p) => ({
    functionality,
    intent,
    skill,
    spec: { functionality: p.functionality, responsibility: p.responsibility },
    probe: { id: p.probe, intent: p.intent },
    generalDirectives: plan.general,
    probeDirectives: p.directives,
  }));
}

export async function renderWriteProbePrompt(input: WriteProbeInput): Promise<RolePrompt> {
  const prompt = await renderRolePrompt('test-writer', {
    functionality: functionalitySection(input.functionality),
    run_intent: intentSection(input.intent),
    skill: skillSections(input.skill),
    general_directives: directivesSection(input.generalDirectives),
    functionality_id: input.spec.functionality,
    responsibility: dataSection('responsibility', input.spec.responsibility),
    probe_id: input.probe.id,
    intent: dataSection('probe intent', input.probe.intent),
    probe_directives: directivesSection(input.probeDirectives),
  });
  return { ...prompt, skills: [{ label: 'skill', skill: input.skill }] };
}

const fileEntry = z.strictObject({
  path: z.string().max(200).describe('Relative to its folder, "/"-separated'),
  content: z.string().max(100_000),
  encoding: z
    .enum(['utf8', 'base64'])
    .optional()
    .describe('base64 for a binary file (content is its bytes base64-encoded); text otherwise'),
});

export const writerOutput = z.strictObject({
  prompt: z.string().min(1).describe('The task as a user would ask it'),
  tags: z.array(z.string().min(1).max(40)).max(8),
  limits: limitsSchema.partial().optional(),
  workspace_files: z.array(fileEntry).max(40),
  grader_mjs: z.string().min(1).describe('ES module default-exporting async grade()'),
  smoke_good: z.array(fileEntry).min(1).max(40),
  smoke_bad: z.array(fileEntry).min(1).max(40),
});
export type WriterOutput = z.infer<typeof writerOutput>;

/**
 * A whole probe may not fit one answer: cut at `max_tokens`, it is asked again in these parts,
 * one tool call each, in the same conversation (the task first, so the grader and smoke
 * fixtures are written against it).
 */
export const WRITER_PARTS = [
  ['prompt', 'tags', 'limits', 'workspace_files'],
  ['grader_mjs'],
  ['smoke_good'],
  ['smoke_bad'],
] as const satisfies readonly (readonly (keyof WriterOutput)[])[];

export async function askWriter(
  model: ChainModel,
  input: WriteProbeInput,
  signal?: AbortSignal,
): Promise<WriterOutput> {
  return model.call(
    'test-writer',
    await renderWriteProbePrompt(input),
    {
      schema: writerOutput,
      toolName: 'write_probe',
      toolDescription: 'Return the probe: task prompt, workspace, grader and smoke fixtures',
      maxTokens: 16_000,
      split: WRITER_PARTS,
    },
    signal,
  );
}

const keptSuiteFields = z.looseObject({
  grader_dependencies: graderDependenciesSchema.optional(),
});

/**
 * The `grader_dependencies` of the suite.yml about to be regenerated: only a person adds them
 * (for graders they wrote by hand), and regenerating must not drop them. The rest of the old
 * file is not read.
 */
async function keptGraderDependencies(store: RunStore): Promise<Record<string, string>> {
  const text = await store.read(RUN_FILES.suite);
  if (text === null) return {};
  const file = `${store.runDir}/${RUN_FILES.suite}`;
  const parsed = parseYaml(text, file);
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return {};
  return validateParsed(keptSuiteFields, parsed, file).grader_dependencies ?? {};
}

/** Step 4 (maintenance): write the planned probe folders and regenerate tests/suite.yml. */
export async function runWriteTests(run: StepRun): Promise<StepOutcome> {
  const { store, model, config } = run.deps;
  const plan = await buildPlan(store, run.directives);
  const inputs = await gatherWriteProbeInputs(store, plan);
  const contents = await mapBounded(inputs, config.concurrency, async (input, index) => {
    const out: ProbeContent = await askWriter(model, input, run.signal);
    const item = plan.write[index] as PlannedProbe;
    // Scope is checked as each answer arrives, so a violation stops further dispatch.
    return probeFolderChanges({
      functionality: item.functionality,
      probe: item.probe,
      intent: item.intent,
      heldout: item.heldout,
      content: { ...out, prompt: cleanText(out.prompt) },
    });
  });

  const probes = [...plan.kept, ...plan.write.map((p) => p.id)];
  const suite = renderSuite(
    probes,
    {
      models: config.models.bench,
      trials: config.trials,
      concurrency: config.concurrency,
      runner: config.runner,
      graderDependencies: await keptGraderDependencies(store),
    },
    run.head,
  );
  const changes: FileChange[] = [...contents.flat(), { path: RUN_FILES.suite, content: suite }];
  const fresh = plan.write.filter((p) => p.reason === 'new').length;
  const rewritten = plan.write.length - fresh;
  return {
    changes,
    result: `${plan.write.length} probe(s) written (${fresh} new, ${rewritten} rewritten), suite of ${probes.length}`,
  };
}

/** Direct inputs for staleness: the picked specs live under tests/, with the probe folders. */
export const WRITE_TESTS_READS = [
  STEPS.functionality.report,
  RUN_FILES.vendored,
  RUN_FILES.tests,
] as const;
