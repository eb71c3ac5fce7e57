import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  collectProbeLiterals,
  describeFinding,
  indexLiterals,
  type ProbeLiteral,
  type ProbeText,
  scanDiffAdditions,
  scanText,
} from '../../src/chain/probe-literals.js';

const SKILL = `---
name: keep-a-changelog
description: Record user-visible changes in CHANGELOG.md following Keep a Changelog 1.1.0.
---

# Keep a Changelog

\`\`\`markdown
## [Unreleased]

### Added
- Short sentence users read ("Export to CSV").

## [1.2.0] - 2026-10-01
\`\`\`

- Reference the pull request as \`(#123)\` at the end of the line.
- Dates are ISO 8601 (\`YYYY-MM-DD\`). See https://keepachangelog.com/en/1.1.0/ for more.
`;

const visible: ProbeText[] = [
  {
    probe: 'release/cut-minor-release',
    heldout: false,
    file: 'tests/release/cut-minor-release/probe.yaml',
    text: 'Cut release 1.3.0 today (2026-11-20) in the changelog. The year is 2026.',
  },
  {
    probe: 'release/cut-minor-release',
    heldout: false,
    file: 'tests/release/cut-minor-release/workspace/CHANGELOG.md',
    text: [
      '## [Unreleased]',
      '',
      '### Added',
      '- Export reports to CSV (#38)',
      '- Timezone offset in weekly reports',
      '',
      '## [1.2.0] - 2026-10-01',
      '',
      '[Unreleased]: https://github.com/acme/widget/compare/v1.2.0...HEAD',
      'See docs/release-notes.txt and ask for "quarterly billing export" by ticket 48213.',
    ].join('\n'),
  },
  {
    probe: 'release/cut-minor-release',
    heldout: false,
    file: 'tests/release/cut-minor-release/grader.mjs',
    code: true,
    text: [
      "import { readFile } from 'node:fs/promises';",
      'const workspaceReader = readFile;',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: grader source, a substitution is the point
      "export default async () => ({ pass: text.includes('[1.3.0]: compare'), reasons: [`missing ${what}`] });",
    ].join('\n'),
  },
];

const heldout: ProbeText[] = [
  {
    probe: 'release/cut-patch-release',
    heldout: true,
    file: 'tests/release/cut-patch-release/probe.yaml',
    text: 'We are shipping the unreleased changes as version 1.2.1, released on 2026-10-09.',
  },
  {
    probe: 'release/cut-patch-release',
    heldout: true,
    file: 'tests/release/cut-patch-release/workspace/CHANGELOG.md',
    text: '- Timezone offset in weekly reports\n- Harbour crane telemetry dashboards (#61)\n',
  },
];

function literals(probes = [...visible, ...heldout], background = [SKILL]) {
  return collectProbeLiterals(probes, background);
}

const find = (all: ProbeLiteral[], text: string) => all.find((l) => l.text === text);

describe('collectProbeLiterals', () => {
  it('collects ids, versions, dates, URLs, files, numbers, quoted strings and n-grams, each with its probe', () => {
    const all = literals();
    const expected: Array<[string, ProbeLiteral['kind'], string, boolean, string]> = [
      ['1.3.0', 'version', 'release/cut-minor-release', false, 'probe.yaml'],
      ['2026-11-20', 'date', 'release/cut-minor-release', false, 'probe.yaml'],
      [
        'https://github.com/acme/widget/compare/v1.2.0...HEAD',
        'url',
        'release/cut-minor-release',
        false,
        'workspace/CHANGELOG.md',
      ],
      ['acme/widget', 'url', 'release/cut-minor-release', false, 'workspace/CHANGELOG.md'],
      ['release-notes.txt', 'file', 'release/cut-minor-release', false, 'workspace/CHANGELOG.md'],
      ['48213', 'number', 'release/cut-minor-release', false, 'workspace/CHANGELOG.md'],
      ['#38', 'id', 'release/cut-minor-release', false, 'workspace/CHANGELOG.md'],
      [
        'quarterly billing export',
        'quoted',
        'release/cut-minor-release',
        false,
        'workspace/CHANGELOG.md',
      ],
      [
        'timezone offset in weekly',
        'ngram',
        'release/cut-minor-release',
        false,
        'workspace/CHANGELOG.md',
      ],
      ['release/cut-minor-release', 'id', 'release/cut-minor-release', false, 'probe.yaml'],
      ['1.2.1', 'version', 'release/cut-patch-release', true, 'probe.yaml'],
      ['2026-10-09', 'date', 'release/cut-patch-release', true, 'probe.yaml'],
      ['cut-patch-release', 'id', 'release/cut-patch-release', true, 'probe.yaml'],
      [
        'harbour crane telemetry dashboards',
        'ngram',
        'release/cut-patch-release',
        true,
        'workspace/CHANGELOG.md',
      ],
      ['#61', 'id', 'release/cut-patch-release', true, 'workspace/CHANGELOG.md'],
    ];
    for (const [text, kind, probe, held, file] of expected) {
      const literal = find(all, text);
      expect(literal, text).toBeDefined();
      expect(literal, text).toMatchObject({
        kind,
        probe,
        heldout: held,
        file: `tests/${probe}/${file}`,
      });
    }
  });

  it('leaves out ordinary words, versions and dates the skill has, years, and markdown syntax', () => {
    const texts = literals().map((l) => l.text);
    for (const ordinary of [
      '1.2.0',
      '2026-10-01',
      '2026',
      '8601',
      '#123',
      'CHANGELOG.md',
      'Unreleased',
    ]) {
      expect(texts).not.toContain(ordinary);
    }
    expect(texts.filter((t) => /^[#\-[\]()`*>|]+$/.test(t) || t.includes('##'))).toEqual([]);
    // n-grams of common words, or of words the skill uses, are not distinctive
    for (const gram of [
      'cut release today in',
      'in the changelog the',
      'we are shipping the',
      'changes as version released',
    ]) {
      expect(texts).not.toContain(gram);
    }
  });

  it('reads only the string literals of a grader, never its identifiers', () => {
    const texts = literals().map((l) => l.text);
    expect(texts).not.toContain('workspaceReader');
    expect(texts).not.toContain('node:fs/promises');
    expect(find(literals(), '1.3.0')).toBeDefined();
    const fromGrader = literals([visible[2] as ProbeText]).filter((l) => l.kind !== 'id');
    expect(fromGrader.map((l) => l.text)).toEqual(['1.3.0']);
  });

  it('counts a literal shared by a visible and a held-out probe as visible', () => {
    const shared = find(literals(), 'timezone offset in weekly');
    expect(shared).toMatchObject({ heldout: false, probe: 'release/cut-minor-release' });
    const reversed = find(literals([...heldout, ...visible]), 'timezone offset in weekly');
    expect(reversed).toMatchObject({ heldout: false, probe: 'release/cut-minor-release' });
  });

  it('counts a held-out literal a visible probe holds in another form (inside a URL) as visible', () => {
    const inUrl: ProbeText = {
      probe: 'release/links',
      heldout: false,
      file: 'tests/release/links/workspace/CHANGELOG.md',
      text: '[1.2.1]: https://example.org/compare/v1.2.0...v1.2.1',
    };
    expect(find(literals([...heldout, inUrl]), '1.2.1')).toMatchObject({
      heldout: false,
      probe: 'release/links',
    });
    expect(find(literals([...heldout, visible[0] as ProbeText]), '1.2.1')).toMatchObject({
      heldout: true,
    });
  });

  it('drops what the background already holds (an intent naming the version)', () => {
    expect(find(literals(undefined, [SKILL, 'Please make 1.2.1 releases work.']), '1.2.1')).toBe(
      undefined,
    );
  });
});

describe('scanText', () => {
  const index = indexLiterals(literals());

  it('finds literals whole, with or without a v, and n-grams across lines, case and spacing', () => {
    const report = [
      '# Analysis',
      '',
      'The agents bump v1.2.1 links; 1.2.10 and 11.2.1 are other versions.',
      'Entries like Timezone',
      '  OFFSET   in weekly reports stay put.',
    ].join('\n');
    const findings = scanText(report, '07-analysis.md', index);
    expect(findings).toEqual([
      {
        literal: '1.2.1',
        kind: 'version',
        probe: 'release/cut-patch-release',
        heldout: true,
        where: { file: '07-analysis.md', line: 3 },
      },
      {
        literal: 'timezone offset in weekly',
        kind: 'ngram',
        probe: 'release/cut-minor-release',
        heldout: false,
        where: { file: '07-analysis.md', line: 4 },
      },
    ]);
  });

  it('finds nothing in ordinary analysis prose about the same skill', () => {
    const prose = [
      '# Analysis',
      '',
      'Release trials add the version heading but leave [Unreleased] comparing the old tag.',
      'The skill describes the file layout (`## [1.2.0] - 2026-10-01`) and never says what',
      'cutting a release involves in 2026; see CHANGELOG.md and (#123).',
      '',
      "- **Would NOT address it (duct tape):** hard-coding one project's versions or URLs",
    ].join('\n');
    expect(scanText(prose, '07-analysis.md', index)).toEqual([]);
  });

  it('reports a URL once, not again for its owner/repo part', () => {
    const found = scanText(
      'Link: https://github.com/acme/widget/compare/v1.2.0...HEAD\nand acme/widget alone',
      'x.md',
      index,
    );
    expect(found.map((f) => [f.literal, f.where.line])).toEqual([
      ['https://github.com/acme/widget/compare/v1.2.0...HEAD', 1],
      ['acme/widget', 2],
    ]);
  });
});

describe('scanDiffAdditions', () => {
  const index = indexLiterals(literals());

  it('scans only added lines, located by file and new line number', () => {
    const diff = [
      '--- a/SKILL.md',
      '+++ b/SKILL.md',
      '@@ -10,4 +10,6 @@',
      ' Context line mentioning 1.3.0 is not added.',
      '-Removed line with acme/widget.',
      '+Added: compare the previous tag with the new one,',
      '+for example 1.3.0 against acme/widget.',
      ' Another context line.',
      '--- a/reference/notes.md',
      '+++ b/reference/notes.md',
      '@@ -1,0 +1,2 @@',
      '+Timezone offset',
      '+in weekly digests.',
    ].join('\n');
    expect(
      scanDiffAdditions(diff, index).map((f) => [f.literal, f.where.file, f.where.line]),
    ).toEqual([
      ['1.3.0', 'SKILL.md', 12],
      ['acme/widget', 'SKILL.md', 12],
      ['timezone offset in weekly', 'reference/notes.md', 1],
    ]);
  });

  it('finds nothing in a general rule', () => {
    const diff = [
      '--- a/SKILL.md',
      '+++ b/SKILL.md',
      '@@ -1,1 +1,3 @@',
      ' # Keep a Changelog',
      "+Derive compare links from the repository's own tag names (`vX.Y.Z`), never from an example.",
      '+Dates are written as `YYYY-MM-DD`.',
    ].join('\n');
    expect(scanDiffAdditions(diff, index)).toEqual([]);
  });
});

describe('scanDiffAdditions (property)', () => {
  const index = indexLiterals(literals());
  const line = fc.record({
    op: fc.constantFrom('+', '-', ' '),
    words: fc.array(fc.constantFrom('the', 'release', 'tag', 'link', '##', '-', '`x`', '2026'), {
      maxLength: 6,
    }),
    literal: fc.boolean(),
  });

  it('reports a literal exactly on the added lines that carry it, at their new line numbers', () => {
    fc.assert(
      fc.property(
        fc.array(line, { maxLength: 30 }),
        fc.integer({ min: 1, max: 500 }),
        (lines, start) => {
          const body = lines.map(
            (l) => `${l.op}${[...l.words, ...(l.literal ? ['1.3.0'] : [])].join(' ')}`,
          );
          const diff = [
            '--- a/SKILL.md',
            '+++ b/SKILL.md',
            `@@ -${start},1 +${start},1 @@`,
            ...body,
          ].join('\n');
          let next = start;
          const expected: number[] = [];
          for (const l of lines) {
            if (l.op === '+' && l.literal) expected.push(next);
            if (l.op !== '-') next += 1;
          }
          const found = scanDiffAdditions(diff, index);
          expect(found.map((f) => f.literal).every((t) => t === '1.3.0')).toBe(true);
          expect(found.map((f) => f.where.line)).toEqual(expected);
        },
      ),
    );
  });
});

describe('describeFinding', () => {
  it('names a visible literal and its probe, and never repeats a held-out literal', () => {
    const [visibleFinding, heldoutFinding] = [
      scanText('1.3.0', 'SKILL.md', indexLiterals(literals()))[0],
      scanText('1.2.1', '08-improvement-proposal.md', indexLiterals(literals()))[0],
    ];
    expect(describeFinding(visibleFinding as never)).toBe(
      '`1.3.0` (version) from visible probe release/cut-minor-release, at SKILL.md:1',
    );
    const text = describeFinding(heldoutFinding as never);
    expect(text).toBe('a version of a held-out probe at 08-improvement-proposal.md:1');
    expect(text).not.toContain('1.2.1');
  });
});
