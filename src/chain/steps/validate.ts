import { z } from 'zod';
import { InvalidFileError } from '../../errors.js';
import type { FileChange, RunStore } from '../../store/port.js';
import { dataSection } from '../../text/sanitize.js';
import { assertNoHeldout, ductTapeFindings, readProbeLiterals } from '../candidate-scan.js';
import { RUN_FILES, STEPS } from '../catalog.js';
import {
  applyUnifiedDiff,
  changedFiles,
  extractDiff,
  readSkillFiles,
  type SkillFile,
} from '../diff.js';
import {
  cleanText,
  directivesSection,
  intentSection,
  orderByReference,
  readFunctionalityReport,
  readIntent,
  readReport,
  readSkill,
  readSubmissionsIfUpstream,
  requireReport,
  type SkillSnapshot,
  skillSections,
  writeReport,
} from '../inputs.js';
import { type ChainModel, type RolePrompt, renderRolePrompt } from '../model.js';
import type { StepOutcome, StepRun } from '../ports.js';
import { describeFinding, type LiteralFinding, scanText } from '../probe-literals.js';
import { proposalFrontmatter, type Verdict, verdictFrontmatter } from '../reports.js';
import type { ChainState } from '../state.js';

/**
 * Everything step 9 may see: the skill before and after, the diff (never 08's rationale), 01,
 * 02 when upstream-bound, intent, directives, and the visible-probe literals the tool found on
 * the diff's added lines. No field for prior verdicts, bench data or the probes themselves.
 */
export interface ValidateInput {
  before: SkillSnapshot;
  after: SkillSnapshot;
  diff: string;
  /** Duct tape: visible-probe literals on the added lines (never held-out ones). */
  ductTape: LiteralFinding[];
  functionality: string;
  submissions: string | null;
  intent: string;
  directives: string[];
}

const SEVERITIES = ['blocker', 'major', 'minor'] as const;
type Severity = (typeof SEVERITIES)[number];

export const validateOutput = z
  .strictObject({
    verdict: z.enum(['approve', 'needs-revision', 'reject']),
    findings: z.array(
      z.strictObject({
        severity: z.enum(SEVERITIES),
        finding: z.string().min(1).describe('One problem and what must change'),
      }),
    ),
    summary: z.string().min(1).describe('Two or three sentences for the maintainer'),
  })
  .superRefine((out, ctx) => {
    if (out.verdict === 'approve' && out.findings.some((f) => f.severity === 'blocker')) {
      ctx.addIssue({
        code: 'custom',
        path: ['verdict'],
        message: 'a change with a blocker finding cannot be approved',
      });
    }
    if (out.verdict !== 'approve' && out.findings.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['findings'],
        message: `a ${out.verdict} verdict needs at least one finding saying why`,
      });
    }
  });
export type ValidateOutput = z.infer<typeof validateOutput>;

/** The proposal's diff, read from 08 without its rationale. */
async function readProposalDiff(store: RunStore): Promise<{ diff: string; ids: string[] }> {
  const proposal = await requireReport(
    store,
    STEPS.improve.report,
    proposalFrontmatter,
    '8 (improve)',
  );
  const diff = extractDiff(proposal.body);
  if (diff === null) {
    throw new InvalidFileError(
      `${store.runDir}/${STEPS.improve.report}`,
      'holds no ```diff block; run step 8 again',
    );
  }
  return { diff, ids: proposal.data.addresses_weaknesses };
}

/** The proposal, the skill before/after it, and the role's input built from them. */
async function collect(store: RunStore, run: Pick<StepRun, 'state' | 'directives'>) {
  const { diff, ids } = await readProposalDiff(store);
  const literals = await readProbeLiterals(store);
  const proposal = (await store.read(STEPS.improve.report)) ?? '';
  const heldout = scanText(proposal, STEPS.improve.report, literals).filter((f) => f.heldout);
  const current = await readSkill(store);
  const before = await readSkillFiles(store, current.copy);
  const after = await applyUnifiedDiff(before, diff);
  const functionality = await readFunctionalityReport(store);
  const submissions = await readSubmissionsIfUpstream(store, run.state);
  const input: ValidateInput = {
    before: current,
    after: {
      copy: current.copy,
      files: orderByReference(after.map(({ path, content }) => ({ path, content }))),
    },
    diff,
    ductTape: ductTapeFindings(diff, literals),
    functionality,
    submissions,
    intent: await readIntent(store),
    directives: run.directives,
  };
  return { input, ids, before, after, heldout, literals };
}

export async function gatherValidateInput(
  store: RunStore,
  run: Pick<StepRun, 'state' | 'directives'>,
): Promise<ValidateInput> {
  return (await collect(store, run)).input;
}

/** A duct-tape finding as the validator sees it: the literal, its kind and where it was added. */
const ductTapeLine = (f: LiteralFinding) =>
  `- \`${f.literal}\` (${f.kind}) from visible probe ${f.probe}, added at ${f.where.file}:${f.where.line}`;

export async function renderValidatePrompt(input: ValidateInput): Promise<RolePrompt> {
  const prompt = await renderRolePrompt('validator', {
    intent: intentSection(input.intent),
    directives: directivesSection(input.directives),
    functionality: dataSection(STEPS.functionality.report, input.functionality),
    submissions:
      input.submissions === null
        ? '(not bound upstream)'
        : dataSection(STEPS.submissions.report, input.submissions),
    diff: dataSection('proposed-diff', input.diff),
    duct_tape:
      input.ductTape.length === 0
        ? '(none found)'
        : dataSection('duct-tape-findings', input.ductTape.map(ductTapeLine).join('\n')),
    skill_copy: input.before.copy,
    before: skillSections(input.before, 'before'),
    after: skillSections(input.after, 'after'),
  });
  return {
    ...prompt,
    skills: [
      { label: 'before', skill: input.before },
      { label: 'after', skill: input.after },
    ],
  };
}

export async function askValidation(
  model: ChainModel,
  input: ValidateInput,
  signal?: AbortSignal,
): Promise<ValidateOutput> {
  return model.call(
    'validator',
    await renderValidatePrompt(input),
    {
      schema: validateOutput,
      toolName: 'report_verdict',
      toolDescription: 'Judge the proposed change to the skill and give the verdict',
    },
    signal,
  );
}

/**
 * improved-skill/ after an approval: the current copy with the diff applied. When improved-skill/
 * does not exist yet it is created from vendored-skill/ (binary files copied as they are).
 */
async function approvedSkillChanges(
  store: RunStore,
  copy: SkillSnapshot['copy'],
  before: readonly SkillFile[],
  after: readonly SkillFile[],
): Promise<FileChange[]> {
  const into = (path: string) => `${RUN_FILES.improved}/${path}`;
  if (copy === 'improved-skill') {
    const { written, deleted } = changedFiles(before, after);
    return [
      ...deleted.map((path) => ({ path: into(path), delete: true as const })),
      ...written.map((f) => ({ path: into(f.path), content: f.content })),
    ];
  }
  const changes: FileChange[] = [];
  if (await store.exists(RUN_FILES.improved))
    changes.push({ path: RUN_FILES.improved, delete: true });
  const text = new Set(before.map((f) => f.path));
  for (const full of await store.list(RUN_FILES.vendored)) {
    const path = full.slice(RUN_FILES.vendored.length + 1);
    if (text.has(path)) continue;
    const bytes = await store.readBytes(full);
    if (bytes !== null) changes.push({ path: into(path), content: bytes });
  }
  for (const f of after) changes.push({ path: into(f.path), content: f.content });
  return changes;
}

const oneLine = (text: string) => cleanText(text).replace(/\s+/g, ' ');
const RANK: Record<Severity, number> = { blocker: 0, major: 1, minor: 2 };
const MAX_DIRECTIVE_CHARS = 300;
const MAX_DIRECTIVES = 10;
const RESULT_SUMMARY_CHARS = 120;

/** The validator's findings as short atomic directives for the next (fresh) optimizer run. */
export function findingsToDirectives(findings: ValidateOutput['findings']): string[] {
  return [...findings]
    .sort((a, b) => RANK[a.severity] - RANK[b.severity])
    .slice(0, MAX_DIRECTIVES)
    .map((f) => {
      const text = oneLine(f.finding);
      const cut =
        text.length > MAX_DIRECTIVE_CHARS ? `${text.slice(0, MAX_DIRECTIVE_CHARS - 1)}…` : text;
      return `Validator (${f.severity}): ${cut}`;
    });
}

/** One line for the gate and the progress tracker. */
export function summariseVerdict(
  verdict: Verdict,
  severities: readonly Severity[],
  summary: string,
  maxSummaryChars = 500,
): string {
  const counts = SEVERITIES.map((s) => [s, severities.filter((x) => x === s).length] as const)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${n} ${s}`);
  const findings = counts.length === 0 ? 'no findings' : counts.join(', ');
  const text = oneLine(summary);
  const cut = text.length > maxSummaryChars ? `${text.slice(0, maxSummaryChars - 1)}…` : text;
  return `${verdict} (${findings}): ${cut}`;
}

const FINDING_LINE = /^- \*\*(blocker|major|minor)\*\* — /;

/** The verdict of 09 in one line for the driver's gate text; null before step 9 ran. */
export async function verdictSummary(store: RunStore): Promise<string | null> {
  const report = await readReport(store, STEPS.validate.report, verdictFrontmatter);
  if (report === null) return null;
  const lines = report.body.split(/\r?\n/);
  const severities = lines.flatMap((l) => {
    const m = FINDING_LINE.exec(l);
    return m?.[1] === undefined ? [] : [m[1] as Severity];
  });
  const summary = lines.find((l) => l.startsWith('**Summary:** '))?.slice(13) ?? '';
  return summariseVerdict(
    report.data.verdict,
    severities,
    summary || 'see 09-validator-verdict.md',
  );
}

function renderBody(out: ValidateOutput, applied: string | null): string {
  const findings = [...out.findings].sort((a, b) => RANK[a.severity] - RANK[b.severity]);
  return [
    `# Validator verdict: ${out.verdict}`,
    '',
    `**Summary:** ${oneLine(out.summary)}`,
    '',
    '## Findings',
    '',
    ...(findings.length === 0
      ? ['None.']
      : findings.map((f) => `- **${f.severity}** — ${oneLine(f.finding)}`)),
    ...(applied === null ? [] : ['', applied]),
  ].join('\n');
}

function stateUpdate(
  out: ValidateOutput,
  addressed: readonly string[],
): ((s: ChainState) => ChainState) | undefined {
  if (out.verdict === 'approve') {
    return (s) => {
      const { improve: _done, ...directives } = s.directives;
      return {
        ...s,
        revisions: 0,
        // Addressed only once a bench keeps the candidate (its verdict is improved).
        weaknesses_pending: [...new Set(addressed)],
        directives,
      };
    };
  }
  if (out.verdict === 'needs-revision') {
    const next = findingsToDirectives(out.findings);
    return (s) => ({
      ...s,
      revisions: s.revisions + 1,
      directives: { ...s.directives, improve: next },
    });
  }
  return undefined;
}

/**
 * 08 carries literals of held-out probes: the validator is not asked (it must not see them) and
 * the candidate is rejected, with where they were found but never the literals themselves.
 */
function blockedByHeldout(
  run: StepRun,
  frontmatter: { duct_tape_findings: string[]; heldout_findings: string[] },
): StepOutcome {
  const n = frontmatter.heldout_findings.length;
  const out: ValidateOutput = {
    verdict: 'reject',
    findings: [
      {
        severity: 'blocker',
        finding: `The proposal carries ${n} literal${n === 1 ? '' : 's'} of held-out probes (${frontmatter.heldout_findings.join('; ')}); it was not shown to the validator.`,
      },
    ],
    summary: 'Blocked by the tool: the proposal carries strings of held-out probes.',
  };
  return {
    changes: [
      writeReport(
        STEPS.validate.report,
        verdictFrontmatter,
        { verdict: out.verdict, ...frontmatter },
        renderBody(out, null),
        run.head,
      ),
    ],
    result: summariseVerdict(out.verdict, ['blocker'], out.summary, RESULT_SUMMARY_CHARS),
  };
}

/**
 * Duct tape is caught in code, not by the validator's word: an approval of a diff that adds
 * literals of the visible probes becomes needs-revision, each literal a blocker the optimizer must
 * replace with the general rule (held-out literals never get this far).
 */
export function overrideDuctTape(
  out: ValidateOutput,
  ductTape: readonly LiteralFinding[],
): ValidateOutput {
  if (out.verdict !== 'approve' || ductTape.length === 0) return out;
  return {
    verdict: 'needs-revision',
    findings: [
      ...ductTape.map((f) => ({
        severity: 'blocker' as const,
        finding: `The diff adds ${f.kind} \`${f.literal}\` from visible probe ${f.probe} (${f.where.file}:${f.where.line}): state the general rule instead of the probe's own values.`,
      })),
      ...out.findings,
    ],
    summary: `${out.summary} The tool overrode the approval: the diff carries ${ductTape.length} literal${ductTape.length === 1 ? '' : 's'} of the visible probes (duct tape).`,
  };
}

/** Step 9 (fresh): judge 08's diff; on approve, apply it into improved-skill/ in the same commit. */
export async function runValidate(run: StepRun): Promise<StepOutcome> {
  const { store } = run.deps;
  const { input, ids, before, after, heldout, literals } = await collect(store, run);
  const frontmatter = {
    duct_tape_findings: input.ductTape.map(describeFinding),
    heldout_findings: heldout.map(describeFinding),
  };
  if (heldout.length > 0) return blockedByHeldout(run, frontmatter);
  const out = overrideDuctTape(
    await askValidation(run.deps.model, input, run.signal),
    input.ductTape,
  );

  let skillChanges: FileChange[] = [];
  let applied: string | null = null;
  if (out.verdict === 'approve') {
    const copy = input.before.copy;
    skillChanges = await approvedSkillChanges(store, copy, before, after);
    applied =
      copy === 'improved-skill'
        ? 'The diff was applied to `improved-skill/`.'
        : 'The diff was applied to a copy of `vendored-skill/`, creating `improved-skill/`.';
  }
  const update = stateUpdate(out, ids);
  const report = writeReport(
    STEPS.validate.report,
    verdictFrontmatter,
    { verdict: out.verdict, ...frontmatter },
    renderBody(out, applied),
    run.head,
  );
  assertNoHeldout(
    STEPS.validate.report,
    scanText(report.content, STEPS.validate.report, literals),
    'skill-optimizer rerun validate',
  );
  return {
    changes: [report, ...skillChanges],
    result: summariseVerdict(
      out.verdict,
      out.findings.map((f) => f.severity),
      out.summary,
      RESULT_SUMMARY_CHARS,
    ),
    ...(update === undefined ? {} : { update }),
  };
}

export const VALIDATE_READS = [
  STEPS.improve.report,
  STEPS.functionality.report,
  STEPS.submissions.report,
  RUN_FILES.vendored,
  RUN_FILES.improved,
  RUN_FILES.intent,
] as const;
