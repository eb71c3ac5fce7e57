import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Splits a changelog into its `## ` sections: { heading, lines }. */
function sections(text) {
  const out = [];
  for (const line of text.split(/\r?\n/)) {
    if (line.startsWith('## ')) out.push({ heading: line.trim(), lines: [] });
    else if (out.length > 0) out.at(-1).lines.push(line);
  }
  return out;
}

async function readChangelog(workspaceDir) {
  try {
    return await readFile(join(workspaceDir, 'CHANGELOG.md'), 'utf8');
  } catch {
    return null;
  }
}

const REPO = 'https://github.com/acme/widget';

/** Checks a cut release: versioned section, emptied Unreleased, moved entries, compare links. */
export function gradeRelease(text, { version, previous, date, entries }) {
  if (text === null) return { pass: false, score: 0, reasons: ['CHANGELOG.md is missing'] };
  const all = sections(text);
  const checks = [];
  const idx = all.findIndex((s) => s.heading === `## [${version}] - ${date}`);
  checks.push([
    idx === 1 && all[0]?.heading === '## [Unreleased]',
    `"## [${version}] - ${date}" right after ## [Unreleased]`,
  ]);
  const unreleased = all[0];
  checks.push([
    Boolean(unreleased) && !unreleased.lines.some((l) => l.startsWith('- ')),
    'Unreleased left empty',
  ]);
  const release = all[idx];
  checks.push([
    Boolean(release) && entries.every((e) => release.lines.some((l) => l.includes(e))),
    'unreleased entries moved into the release',
  ]);
  checks.push([
    text.includes(`[Unreleased]: ${REPO}/compare/v${version}...HEAD`),
    'Unreleased compare link bumped',
  ]);
  checks.push([
    text.includes(`[${version}]: ${REPO}/compare/v${previous}...v${version}`),
    `compare link for ${version}`,
  ]);
  const missing = checks.filter(([ok]) => !ok).map(([, what]) => `missing: ${what}`);
  const score = (checks.length - missing.length) / checks.length;
  return {
    pass: missing.length === 0,
    score,
    reasons: missing.length ? missing : ['release cut correctly'],
  };
}

export default async function grade({ workspaceDir }) {
  return gradeRelease(await readChangelog(workspaceDir), {
    version: '1.2.1',
    previous: '1.2.0',
    date: '2026-10-09',
    entries: ['Export reports to CSV (#38)'],
  });
}
