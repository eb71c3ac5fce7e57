import { z } from 'zod';
import type { RunStore } from '../../store/port.js';
import { dataSection } from '../../text/sanitize.js';
import { operatorCommit, RUN_FILES, STEPS } from '../catalog.js';
import { fixHeldoutShare, type HeldoutFix } from '../heldout-share.js';
import { cleanText, directivesSection, intentSection, writeReport } from '../inputs.js';
import { type ChainModel, type RolePrompt, renderRolePrompt } from '../model.js';
import type { StepOutcome, StepRun } from '../ports.js';
import { proposalsFrontmatter, type SpecFile } from '../reports.js';
import { byPriority, readSpecFiles, renderSpec, type StoredSpec, specPath } from '../specs.js';
import { functionalitySection, readFunctionalityReport } from '../test-inputs.js';

/**
 * Step 3 (maintenance): proposes functionalities and probes from the stated responsibilities.
 * Existing specs are state: picked ones are never rewritten; unpicked ones only when directives
 * ask for a revision. New functionalities get a spec with `picked: false`.
 */

/** Everything the designer may see. No field for the skill source or probe folders. */
export interface DesignTestsInput {
  functionality: string;
  intent: string;
  directives: string[];
  /** Current `tests/<f>/spec.yaml` files, as committed. */
  specs: Array<{ path: string; text: string }>;
  heldoutShare: number;
}

const kebab = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/)
  .describe('kebab-case id');

export const designOutput = z.strictObject({
  rationale: z.string().min(1).describe('Why these functionalities, priorities and probes'),
  functionalities: z
    .array(
      z.strictObject({
        id: kebab,
        responsibility: z.string().min(1),
        priority: z.int().min(1).max(100).describe('1 = most important'),
        probes: z
          .array(
            z.strictObject({
              id: kebab,
              intent: z
                .string()
                .min(1)
                .describe('What the probe checks and what passing looks like'),
              heldout: z.boolean(),
            }),
          )
          .min(1)
          .max(8)
          .refine((ps) => new Set(ps.map((p) => p.id)).size === ps.length, {
            message: 'probe ids must be unique within a functionality',
          }),
      }),
    )
    .min(1)
    .max(20)
    .refine((fs) => new Set(fs.map((f) => f.id)).size === fs.length, {
      message: 'functionality ids must be unique',
    }),
});
export type DesignOutput = z.infer<typeof designOutput>;

export async function gatherDesignTestsInput(
  store: RunStore,
  run: Pick<StepRun, 'directives' | 'intent' | 'deps'>,
): Promise<DesignTestsInput> {
  const specs = await readSpecFiles(store);
  return {
    functionality: await readFunctionalityReport(store),
    intent: run.intent,
    directives: run.directives,
    specs: specs.map((s) => ({ path: s.path, text: s.text })),
    heldoutShare: run.deps.config.heldout_share,
  };
}

export async function renderDesignTestsPrompt(input: DesignTestsInput): Promise<RolePrompt> {
  return renderRolePrompt('test-designer', {
    heldout_percent: String(Math.round(input.heldoutShare * 100)),
    specs:
      input.specs.length === 0
        ? '(none yet: this is the first design)'
        : input.specs.map((s) => dataSection(s.path, s.text)).join('\n\n'),
    intent: intentSection(input.intent),
    directives: directivesSection(input.directives),
    functionality: functionalitySection(input.functionality),
  });
}

export async function askDesigner(
  model: ChainModel,
  input: DesignTestsInput,
  signal?: AbortSignal,
): Promise<DesignOutput> {
  return model.call(
    'test-designer',
    await renderDesignTestsPrompt(input),
    {
      schema: designOutput,
      toolName: 'propose_tests',
      toolDescription: 'Propose functionalities to test, each with prioritised probes',
      maxTokens: 12_000,
    },
    signal,
  );
}

type Status = 'new' | 'revised' | 'kept' | 'kept (picked)';

function toSpec(f: DesignOutput['functionalities'][number]): SpecFile {
  return {
    functionality: f.id,
    picked: false,
    priority: f.priority,
    responsibility: cleanText(f.responsibility),
    probes: f.probes.map((p) => ({ id: p.id, intent: cleanText(p.intent), heldout: p.heldout })),
  };
}

/** Which existing specs stay as they are and which specs this run writes. */
export function planSpecs(
  stored: readonly StoredSpec[],
  out: DesignOutput,
  revision: boolean,
): { preserved: SpecFile[]; editable: SpecFile[]; status: Map<string, Status> } {
  const proposed = new Map(out.functionalities.map((f) => [f.id, f]));
  const status = new Map<string, Status>();
  const preserved: SpecFile[] = [];
  const editable: SpecFile[] = [];
  for (const { spec } of stored) {
    const replacement = proposed.get(spec.functionality);
    if (revision && !spec.picked && replacement !== undefined) {
      editable.push(toSpec(replacement));
      status.set(spec.functionality, 'revised');
    } else {
      preserved.push(spec);
      status.set(spec.functionality, spec.picked ? 'kept (picked)' : 'kept');
    }
  }
  for (const f of out.functionalities) {
    if (status.has(f.id)) continue;
    editable.push(toSpec(f));
    status.set(f.id, 'new');
  }
  return { preserved, editable, status };
}

function heldoutNote(fix: HeldoutFix, share: number): string {
  const target = `${fix.target} of ${fix.total} probes (${Math.round(share * 100)}%)`;
  const lines = [`Target: ${target}; held-out now: ${fix.heldout}.`];
  if (fix.flipped.length > 0) {
    lines.push(
      '',
      "The designer's marks missed the target, so the operator changed them (stable order by a hash of the probe id; preserved specs untouched):",
      ...fix.flipped.map((f) => `- \`${f.id}\` → ${f.heldout ? 'held-out' : 'visible'}`),
    );
  }
  if (fix.heldout !== fix.target) {
    lines.push(
      '',
      'The target could not be met without changing preserved (picked or kept) specs.',
    );
  }
  return lines.join('\n');
}

function renderBody(
  specs: SpecFile[],
  status: Map<string, Status>,
  rationale: string,
  fix: HeldoutFix,
  share: number,
  checkpoint: string | null,
): string {
  const rows = specs.map(
    (s) =>
      `| \`${s.functionality}\` | ${s.priority} | ${s.picked ? 'yes' : 'no'} | ${s.probes.length} | ${s.probes.filter((p) => p.heldout).length} | ${status.get(s.functionality) ?? 'kept'} |`,
  );
  const sections = specs.flatMap((s) => [
    `### \`${s.functionality}\` (priority ${s.priority}${s.picked ? ', picked' : ''})`,
    '',
    cleanText(s.responsibility),
    '',
    ...s.probes.map(
      (p) =>
        `- \`${p.id}\`${p.heldout ? ' (held-out)' : ''}: ${cleanText(p.intent).replace(/\s+/g, ' ')}`,
    ),
    '',
  ]);
  return [
    '# Test proposals',
    '',
    cleanText(rationale),
    '',
    '| functionality | priority | picked | probes | held-out | this run |',
    '| --- | ---: | --- | ---: | ---: | --- |',
    ...rows,
    '',
    '## Probes',
    '',
    ...sections,
    '## Held-out probes',
    '',
    heldoutNote(fix, share),
    ...(checkpoint === null
      ? []
      : [
          '',
          `Uncommitted spec edits were checkpointed first in commit ${checkpoint.slice(0, 12)}.`,
        ]),
    '',
    '## How to pick',
    '',
    'Step 4 writes probes only for picked functionalities. Pick with',
    '`skill-optimizer pick <f1,f2|all|top N>` (on the pull request: `/optimize pick <f1,f2|all|top N>`),',
    `for example \`skill-optimizer pick top 3\`, or set \`picked: true\` in \`${RUN_FILES.tests}/<functionality>/spec.yaml\` and commit.`,
    'Picking only adds; set `picked: false` by hand to drop a functionality.',
  ].join('\n');
}

/** Step 3 (maintenance): propose functionalities and probes; write specs for new ones. */
export async function runDesignTests(run: StepRun): Promise<StepOutcome> {
  const { store, config } = run.deps;
  const revision = run.directives.length > 0;
  // A revision may rewrite spec files a human edited: first commit whatever is not yet on the
  // branch, so the designer reads it and git shows the revision as a clean before/after.
  const checkpoint = revision
    ? await store.checkpoint(
        operatorCommit(store.slug, 'checkpoint', 'spec files before step 3 revises them'),
        [RUN_FILES.tests],
      )
    : null;
  const stored = await readSpecFiles(store);
  const input = await gatherDesignTestsInput(store, run);
  const out = await askDesigner(run.deps.model, input, run.signal);

  const { preserved, editable, status } = planSpecs(stored, out, revision);
  const fix = fixHeldoutShare(preserved, editable, config.heldout_share);
  const revised = [...status.values()].filter((s) => s === 'revised').length;

  const all = [...preserved, ...fix.specs].sort(byPriority);
  const added = [...status.values()].filter((s) => s === 'new').length;
  const probes = all.reduce((n, s) => n + s.probes.length, 0);
  return {
    changes: [
      ...fix.specs.map((spec) => ({
        path: specPath(spec.functionality),
        content: renderSpec(spec),
      })),
      writeReport(
        STEPS['design-tests'].report,
        proposalsFrontmatter,
        { functionalities: all.map((s) => s.functionality) },
        renderBody(all, status, out.rationale, fix, config.heldout_share, checkpoint),
        run.head,
      ),
    ],
    result: `${all.length} functionalities (${added} new${revised > 0 ? `, ${revised} revised` : ''}), ${probes} probes, ${fix.heldout} held-out${fix.flipped.length > 0 ? ' (share fixed by the operator)' : ''}`,
  };
}

/** Direct inputs for staleness. Spec files are this step's output (picks change them), not inputs. */
export const DESIGN_TESTS_READS = [STEPS.functionality.report, RUN_FILES.intent] as const;
