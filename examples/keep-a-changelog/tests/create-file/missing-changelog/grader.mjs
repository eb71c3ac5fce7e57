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

/** Change-type subsections of one section: { type, bullets }. */
function changeTypes(section) {
  const out = [];
  for (const line of section.lines) {
    const m = /^### (\w+)/.exec(line);
    if (m) out.push({ type: m[1], bullets: [] });
    else if (line.startsWith('- ') && out.length > 0) out.at(-1).bullets.push(line);
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

export default async function grade({ workspaceDir }) {
  const text = await readChangelog(workspaceDir);
  if (text === null) return { pass: false, score: 0, reasons: ['CHANGELOG.md was not created'] };
  const checks = [
    [/^# Changelog\s*$/m.test(text), 'title "# Changelog"'],
    [/keepachangelog\.com\/en\/1\.1\.0/.test(text), 'link to Keep a Changelog 1.1.0'],
    [sections(text)[0]?.heading === '## [Unreleased]', '## [Unreleased] as the first section'],
  ];
  const unreleased = sections(text).find((s) => s.heading === '## [Unreleased]');
  const added = unreleased ? changeTypes(unreleased).find((t) => t.type === 'Added') : undefined;
  checks.push([
    Boolean(added?.bullets.some((b) => /#12\)\s*$/.test(b) && /yaml/i.test(b))),
    'Added bullet ending in (#12) about YAML',
  ]);
  const missing = checks.filter(([ok]) => !ok).map(([, what]) => `missing: ${what}`);
  const score = (checks.length - missing.length) / checks.length;
  return {
    pass: missing.length === 0,
    score,
    reasons: missing.length ? missing : ['changelog created with the entry'],
  };
}
