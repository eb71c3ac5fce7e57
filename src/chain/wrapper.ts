import { sanitizeUntrusted } from '../text/sanitize.js';
import type { SkillSnapshot } from './inputs.js';

/**
 * The operator's own wrapper check (docs/chain.md): a SKILL.md that only points elsewhere.
 * It reports evidence; it never follows the pointer.
 */
export interface WrapperHint {
  likely: boolean;
  pointsTo: string | null;
  evidence: string[];
}

const POINTER_KEYS = ['source', 'reference', 'canonical', 'see', 'upstream'];
const SEE_LINE =
  /\b(?:see|refer to|moved to|lives (?:in|at)|canonical (?:copy|version))\b[^\n]*?(`[^`]+`|\[[^\]]*\]\(([^)]+)\)|\S+\/\S+)/i;

export function detectWrapper(skill: SkillSnapshot): WrapperHint {
  const md = skill.files.find((f) => f.path === 'SKILL.md')?.content ?? '';
  const fm = /^---\r?\n([\s\S]*?)\r?\n---/.exec(md)?.[1] ?? '';
  const body = md.slice(md.indexOf('---', 3) + 3).trim();
  const evidence: string[] = [];
  let pointsTo: string | null = null;

  for (const key of POINTER_KEYS) {
    const m = new RegExp(`^${key}:\\s*(.+)$`, 'mi').exec(fm);
    // The value is skill text: hidden comments and invisible characters never travel on.
    const value = sanitizeUntrusted(m?.[1] ?? '').trim();
    if (value !== '') {
      evidence.push(`frontmatter \`${key}:\` points to ${value}`);
      pointsTo ??= value.replace(/^['"]|['"]$/g, '');
    }
  }
  const words = body.split(/\s+/).filter(Boolean).length;
  const see = SEE_LINE.exec(body);
  if (words < 80 && see) {
    evidence.push(`short body (${words} words) that defers elsewhere`);
    pointsTo ??= sanitizeUntrusted(see[2] ?? see[1] ?? '').replace(/^`|`$/g, '') || null;
  }
  const agentLayouts = skill.files.filter((f) =>
    /^(?:\.claude-plugin|\.codex|\.cursor)\//.test(f.path),
  );
  if (agentLayouts.length > 0 && words < 80) {
    evidence.push(`multi-agent plugin layout (${agentLayouts.map((f) => f.path).join(', ')})`);
  }
  return { likely: evidence.length > 0, pointsTo, evidence };
}
