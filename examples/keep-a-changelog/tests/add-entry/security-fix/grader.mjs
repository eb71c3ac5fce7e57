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
  if (text === null) return { pass: false, score: 0, reasons: ['CHANGELOG.md is missing'] };
  const unreleased = sections(text).find((s) => s.heading === '## [Unreleased]');
  if (!unreleased) return { pass: false, score: 0, reasons: ['no ## [Unreleased] section'] };
  const types = changeTypes(unreleased);
  const has57 = (t) => t?.bullets.some((b) => /#57\)\s*$/.test(b) && /travers/i.test(b));
  if (has57(types.find((t) => t.type === 'Security'))) {
    return { pass: true, score: 1, reasons: ['vulnerability fix recorded under Security'] };
  }
  const elsewhere = types.find((t) => has57(t));
  return {
    pass: false,
    score: elsewhere ? 0.5 : 0,
    reasons: [
      elsewhere
        ? `recorded under ${elsewhere.type}, expected Security`
        : 'no bullet ending in (#57) about the path traversal',
    ],
  };
}
