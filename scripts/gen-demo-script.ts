/**
 * Generates examples/keep-a-changelog/chain-script.yml: the scripted model that drives the whole
 * chain in `npm run demo`. Chain roles answer through their tools (matched by the tool offered);
 * probe writers return the example's own probes; trial agents follow the example bench script.
 * The optimizer's edit adds the release guidance the original skill lacks, as a general rule with
 * no version, date or URL of any probe (the tool scans for those), so the second bench really
 * passes more probes. Run: npx tsx scripts/gen-demo-script.ts
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse, stringify } from 'yaml';

const EXAMPLE = join(import.meta.dirname, '..', 'examples', 'keep-a-changelog');
const TESTS = join(EXAMPLE, 'tests');
export const CHAIN_SCRIPT = join(EXAMPLE, 'chain-script.yml');

const RELEASE_SECTION = `## Cutting a release

When a version ships, its entries move out of \`## [Unreleased]\` into a section of their own:

1. Add \`## [X.Y.Z] - YYYY-MM-DD\` directly below \`## [Unreleased]\`, with the version and date
   exactly as given, and move every Unreleased entry into it. Leave \`## [Unreleased]\` empty.
2. Update the link references at the bottom of the file. Derive them from the links already
   there, never from memory: keep their repository URL and their tag naming (with or without a
   \`v\`). \`[Unreleased]\` now compares the new version's tag with \`HEAD\`, and a new \`[X.Y.Z]\`
   line above the previous release's compares that release's tag with the new one.
3. Released sections are history: never merge, reorder or rewrite them.

`;

const PROBES = [
  {
    f: 'add-entry',
    p: 'fixed-with-pr',
    heldout: false,
    intent:
      'A fix with a PR number lands under Unreleased › Fixed with (#42), leaving released sections alone.',
  },
  {
    f: 'add-entry',
    p: 'security-fix',
    heldout: false,
    intent: 'A vulnerability fix is filed under Security, not Fixed.',
  },
  {
    f: 'create-file',
    p: 'missing-changelog',
    heldout: false,
    intent:
      'Without a changelog, a new one gets the standard header, an Unreleased section and the entry.',
  },
  {
    f: 'release',
    p: 'cut-minor-release',
    heldout: false,
    intent:
      'Cutting 1.3.0 moves Unreleased entries into a dated section and bumps the compare links.',
  },
  {
    f: 'release',
    p: 'cut-patch-release',
    heldout: true,
    intent: 'Cutting a patch release dated in the past works the same way.',
  },
];

type Rule = Record<string, unknown>;
const toolUse = (name: string, input: unknown) => ({
  content: [{ type: 'tool_use', name, input }],
});

function filesUnder(dir: string): Array<{ path: string; content: string }> {
  const out: Array<{ path: string; content: string }> = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const full = join(d, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (name !== '.gitkeep')
        out.push({ path: relative(dir, full), content: readFileSync(full, 'utf8') });
    }
  };
  walk(dir);
  return out;
}

/** The optimizer's edit: the release section inserted before the pointer to the reference. */
function improvementEdits() {
  const anchor = 'See `reference/change-types.md`';
  const original = readFileSync(join(EXAMPLE, 'skill', 'SKILL.md'), 'utf8');
  if (original.split(anchor).length !== 2) {
    throw new Error(`the example SKILL.md must hold ${anchor} exactly once`);
  }
  return [{ path: 'SKILL.md', replace: [{ old: anchor, new: `${RELEASE_SECTION}${anchor}` }] }];
}

function chainRules(): Rule[] {
  const rules: Rule[] = [];
  rules.push({
    name: 'functionality',
    when: { tool_offered: 'report_functionality' },
    reply: toolUse('report_functionality', {
      skill_name: 'keep-a-changelog',
      classification: 'document',
      summary:
        'Keeps a CHANGELOG.md in the Keep a Changelog 1.1.0 format: adding entries for the next release, creating the file, and cutting releases.',
      responsibilities: [
        {
          id: 'add-entry',
          title: 'Add an entry',
          description:
            'Record a change under Unreleased in the section for its change type, with the PR reference.',
        },
        {
          id: 'create-file',
          title: 'Create the changelog',
          description: 'Start CHANGELOG.md with the standard header when it does not exist.',
        },
        {
          id: 'release',
          title: 'Cut a release',
          description:
            'Move Unreleased entries into a dated version section and keep the compare links right.',
        },
      ],
      pr_submission_intent: true,
      pr_submission_reason:
        "The intent asks for the improvement to be proposed back to the skill's repository.",
      likely_wrapper: false,
      wrapper_points_to: null,
    }),
  });
  rules.push({
    name: 'submissions',
    when: { tool_offered: 'report_submission_conventions' },
    reply: toolUse('report_submission_conventions', {
      pr_target_path: 'skills/keep-a-changelog',
      base_branch: 'main',
      license: 'MIT',
      requires_cla: false,
      cla_evidence: 'CONTRIBUTING.md asks for a sign-off line only, no CLA.',
      conventions: {
        title: 'Imperative mood, prefixed with the skill name: "keep-a-changelog: ..."',
        body: 'What changed for users of the skill and how it was checked.',
        commits: 'One logical change per commit, signed off (Signed-off-by).',
        frontmatter: 'name and description only; description says when to use the skill.',
      },
      rejection_patterns: [
        'Changes that add examples tied to one project were asked to be generalised.',
      ],
      notes: ['Skills live under skills/<name>/ with SKILL.md at the top.'],
    }),
  });
  const byF = new Map<string, typeof PROBES>();
  for (const probe of PROBES) byF.set(probe.f, [...(byF.get(probe.f) ?? []), probe]);
  const responsibility: Record<string, string> = {
    'add-entry': 'Record a change under Unreleased in the right change-type section.',
    'create-file': 'Create a changelog with the standard header when none exists.',
    release: 'Cut a release: dated section, emptied Unreleased, updated compare links.',
  };
  rules.push({
    name: 'design-tests',
    when: { tool_offered: 'propose_tests' },
    reply: toolUse('propose_tests', {
      rationale:
        'One functionality per responsibility; releases get two probes because they have the most steps.',
      functionalities: [...byF.entries()].map(([f, probes], i) => ({
        id: f,
        responsibility: responsibility[f],
        priority: i + 1,
        probes: probes.map((p) => ({ id: p.p, intent: p.intent, heldout: p.heldout })),
      })),
    }),
  });
  for (const probe of PROBES) {
    const dir = join(TESTS, probe.f, probe.p);
    const probeYaml = parse(readFileSync(join(dir, 'probe.yaml'), 'utf8')) as {
      prompt: string;
      tags: string[];
    };
    rules.push({
      name: `write ${probe.f}/${probe.p}`,
      when: { tool_offered: 'write_probe', contains: `${probe.p}\`` },
      reply: toolUse('write_probe', {
        prompt: probeYaml.prompt,
        tags: probeYaml.tags,
        limits: { max_turns: 12, timeout_s: 120 },
        workspace_files: filesUnder(join(dir, 'workspace')),
        grader_mjs: readFileSync(join(dir, 'grader.mjs'), 'utf8'),
        smoke_good: filesUnder(join(dir, 'smoke', 'good')),
        smoke_bad: filesUnder(join(dir, 'smoke', 'bad')),
      }),
    });
    rules.push({
      name: `review ${probe.f}/${probe.p}`,
      when: { tool_offered: 'review_probe', contains: `${probe.p}\`` },
      reply: toolUse('review_probe', {
        checks: {
          tests_the_intent: true,
          prompt_is_realistic: true,
          workspace_is_sufficient: true,
          grader_is_fair: true,
          not_trivially_passable: true,
          grader_is_robust: true,
          smoke_fixtures_are_meaningful: true,
          measures_the_job_not_the_wording: true,
        },
        verdict: 'approved',
        reasons: [
          'The grader checks the outcome the intent describes and the smoke fixtures separate right from wrong.',
        ],
      }),
    });
  }
  const wouldNot = [
    'Writing the versions, dates or repository URLs seen in the trials into the skill',
    'Adding an example changelog that the agent could copy verbatim',
  ];
  rules.push({
    name: 'analyze',
    when: { tool_offered: 'report_analysis' },
    reply: toolUse('report_analysis', {
      summary:
        'Entries land in the right place, but every release trial leaves the compare links untouched: the skill never says what cutting a release involves.',
      has_structural_weakness: true,
      weaknesses: [
        {
          id: 'no-release-procedure',
          pattern:
            'Release trials add the version heading but leave [Unreleased] comparing the old tag and add no link for the new version.',
          evidence: [
            'release/cut-minor-release · all trials: "missing: Unreleased compare link bumped"',
          ],
          hypothesised_cause:
            'The skill describes the file layout and adding entries, but has no procedure for releases, so agents stop after the heading.',
          skill_section: 'missing',
          would_address:
            'A short, general release procedure: dated section, emptied Unreleased, and both link references updated.',
          would_not_address: wouldNot,
        },
      ],
    }),
  });
  rules.push({
    name: 'improve',
    when: { tool_offered: 'propose_improvement' },
    reply: toolUse('propose_improvement', {
      addresses_weaknesses: ['no-release-procedure'],
      rationale:
        'Adds the missing release procedure as a general rule for any version and date, including the link references that Keep a Changelog relies on.',
      edits: improvementEdits(),
      self_check: wouldNot.map((item) => ({
        would_not_item: item,
        respected: true,
        note: 'The section uses placeholders (X.Y.Z, YYYY-MM-DD) and derives the links from the file itself; it names no version, date or URL.',
      })),
    }),
  });
  rules.push({
    name: 'validate',
    when: { tool_offered: 'report_verdict' },
    reply: toolUse('report_verdict', {
      verdict: 'approve',
      findings: [
        {
          severity: 'minor',
          finding: 'Step 2 is dense; it could split the two link updates into their own lines.',
        },
      ],
      summary:
        "A general release procedure in the skill's own voice that derives links from the changelog itself; frontmatter unchanged.",
    }),
  });
  rules.push({
    name: 'non-convergence review',
    when: { tool_offered: 'report_non_convergence' },
    reply: toolUse('report_non_convergence', {
      why_it_stalled: 'The loop stopped before the pass rate reached its threshold.',
      evidence: ['The progression table shows the last benches.'],
      decisions: [
        {
          question: 'Accept the current skill, or steer the optimizer?',
          options: [
            { option: 'accept', consequence: 'Publish the skill as it stands.' },
            {
              option: 'rerun improve with a directive',
              consequence: 'One more improvement round.',
            },
          ],
          recommendation: 'Read the analysis and decide whether the remaining failures matter.',
        },
      ],
    }),
  });
  return rules;
}

function trialRules(): Rule[] {
  const bench = parse(readFileSync(join(TESTS, 'script.yml'), 'utf8')) as { rules: Rule[] };
  return bench.rules.map((rule) => ({
    ...rule,
    name: `trial: ${rule.name as string}`,
    when: { ...(rule.when as Record<string, unknown>), tool_offered: 'read_file' },
  }));
}

export function demoScript(): string {
  const header = [
    '# Generated by scripts/gen-demo-script.ts — do not edit by hand.',
    '# The scripted model behind `npm run demo`: every chain role answers through its tool,',
    '# and trial agents follow examples/keep-a-changelog/tests/script.yml.',
    '',
  ].join('\n');
  return header + stringify({ rules: [...chainRules(), ...trialRules()] }, { lineWidth: 0 });
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop() as string)) {
  writeFileSync(CHAIN_SCRIPT, demoScript());
  console.log(`wrote ${relative(process.cwd(), CHAIN_SCRIPT)}`);
}
