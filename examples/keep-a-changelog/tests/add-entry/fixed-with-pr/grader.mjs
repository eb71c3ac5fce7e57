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
const ORDER = ['Added', 'Changed', 'Deprecated', 'Removed', 'Fixed', 'Security'];

export default async function grade({ workspaceDir }) {
  const text = await readChangelog(workspaceDir);
  if (text === null) return { pass: false, score: 0, reasons: ['CHANGELOG.md is missing'] };
  const all = sections(text);
  const unreleased = all.find((s) => s.heading === '## [Unreleased]');
  if (!unreleased) return { pass: false, score: 0, reasons: ['no ## [Unreleased] section'] };
  const types = changeTypes(unreleased);
  const fixed = types.find((t) => t.type === 'Fixed');
  const reasons = [];
  let score = 0;
  const entry = fixed?.bullets.find((b) => /#42\)\s*$/.test(b) && /empty/i.test(b));
  if (entry) score += 0.6;
  else reasons.push('no bullet ending in (#42) about the empty config under Unreleased › Fixed');
  const order = types.map((t) => ORDER.indexOf(t.type));
  if (order.every((v, i) => v >= 0 && (i === 0 || v > order[i - 1]))) score += 0.2;
  else reasons.push(`change types out of order: ${types.map((t) => t.type).join(', ')}`);
  const released = all.find((s) => s.heading.startsWith('## [1.2.0]'));
  if (released && !released.lines.some((l) => l.includes('#42'))) score += 0.2;
  else reasons.push('the released 1.2.0 section was edited');
  return {
    pass: score === 1,
    score,
    reasons: reasons.length ? reasons : ['entry recorded under Unreleased › Fixed'],
  };
}
