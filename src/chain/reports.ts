import { z } from 'zod';

/**
 * Frontmatter of each step's report (docs/chain.md). Only facts a later step must read live here;
 * everything else is the markdown body. Validated on write and on read.
 */

const slug = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'expected a kebab-case id such as add-entry');

/** Step 1 labels; a short free label when none fits, never `other`. */
export const KNOWN_CLASSIFICATIONS = [
  'tool-use',
  'code-patterns',
  'document',
  'prose-guidance',
  'meta',
  'interactive',
] as const;

export const classificationSchema = z
  .string()
  .trim()
  .min(2)
  .max(40)
  .refine((v) => v.toLowerCase() !== 'other', 'use a short descriptive label, never "other"');

export const functionalityFrontmatter = z.strictObject({
  skill_name: z.string().min(1),
  skill_source: z.string().min(1),
  classification: classificationSchema,
  pr_submission_intent: z.boolean(),
  likely_wrapper: z.boolean(),
  wrapper_points_to: z.string().nullable(),
});
export type FunctionalityFrontmatter = z.infer<typeof functionalityFrontmatter>;

export const submissionsFrontmatter = z.strictObject({
  pr_target_repo: z.string().regex(/^[\w.-]+\/[\w.-]+$/, 'expected owner/name'),
  pr_target_path: z.string().min(1),
  base_branch: z.string().min(1),
  license: z.string().min(1),
  requires_cla: z.boolean(),
});
export type SubmissionsFrontmatter = z.infer<typeof submissionsFrontmatter>;

export const proposalsFrontmatter = z.strictObject({
  functionalities: z.array(slug),
});

/** `tests/<functionality>/spec.yaml`: the designer writes it, humans flip `picked`. */
export const probeProposal = z.strictObject({
  id: slug,
  intent: z.string().min(1),
  heldout: z.boolean(),
});
export const specFile = z.strictObject({
  functionality: slug,
  picked: z.boolean(),
  priority: z.int().min(1).max(100),
  responsibility: z.string().min(1),
  probes: z.array(probeProposal).min(1),
});
export type SpecFile = z.infer<typeof specFile>;

export const testsVerdictFrontmatter = z.strictObject({
  all_probes_approved: z.boolean(),
  probes: z.record(z.string(), z.enum(['approved', 'rejected'])),
});
export type TestsVerdictFrontmatter = z.infer<typeof testsVerdictFrontmatter>;

const rate = z.number().min(0).max(100).nullable();
export const benchFrontmatter = z.strictObject({
  iteration: z.int().min(0),
  skill: z.enum(['vendored-skill', 'improved-skill']),
  results_dir: z.string().min(1),
  pass_rate: rate,
  heldout_pass_rate: rate,
  min_probe_pass_rate: rate,
  baseline_pass_rate: rate,
  all_pass: z.boolean(),
  /** Null when nothing was compared; afterwards whether the candidate was kept (docs/decision-rule.md). */
  accepted: z.boolean().nullable(),
  /** The verdict against the kept skill; null when nothing was compared. */
  verdict: z.enum(['improved', 'inconclusive', 'rejected']).nullable().default(null),
  /** The results of the skill kept after this bench (this bench's own unless it was discarded). */
  kept_results_dir: z.string().min(1).optional(),
});
export type BenchFrontmatter = z.infer<typeof benchFrontmatter>;

export const analysisFrontmatter = z.strictObject({
  has_structural_weakness: z.boolean(),
  weaknesses: z.array(slug),
});
export type AnalysisFrontmatter = z.infer<typeof analysisFrontmatter>;

export const proposalFrontmatter = z.strictObject({
  addresses_weaknesses: z.array(slug).min(1),
});

export const verdictFrontmatter = z.strictObject({
  verdict: z.enum(['approve', 'needs-revision', 'reject']),
  /** Visible-probe literals the tool found on the diff's added lines, one line each (docs/decision-rule.md). */
  duct_tape_findings: z.array(z.string().min(1)).default([]),
  /** Where held-out literals were found in the candidate (never the literals themselves). */
  heldout_findings: z.array(z.string().min(1)).default([]),
});
export type Verdict = z.infer<typeof verdictFrontmatter>['verdict'];
