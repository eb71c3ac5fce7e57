import type { OpenGate } from '../chain/state.js';
import { escapeInline } from '../routing/markdown.js';
import { codeSpan, escapeMarkdown } from '../text/escape-markdown.js';

/**
 * The review the bot posts on the chain PR at a gate (docs/chain.md "Gates as review comments"):
 * the question, each option with the exact command that picks it, the files to read (linked at
 * the pinned commit), and how approving or requesting changes answers it. Everything that comes
 * from the run (the question, option texts, file names) goes through the markdown escaper: a
 * model-chosen value cannot mention anyone, add HTML or links, or break out of its code span.
 */

export const GATE_REVIEW_MARKER = '<!-- skill-optimizer:gate -->';

/** The `/optimize` command that picks an option, or null when only the CLI can. */
export function optionCommand(gate: OpenGate, option: string): string {
  return option === gate.default ? '/optimize approve' : `/optimize answer ${option}`;
}

export function renderGateReview(opts: {
  gate: OpenGate;
  slug: string;
  runDir: string;
  pinnedSha: string;
  blobBase: string;
  requester: string;
}): string {
  const { gate } = opts;
  const lines = [
    GATE_REVIEW_MARKER,
    `### Skill Optimizer is waiting at the ${codeSpan(gate.id)} gate (after step ${codeSpan(gate.step)})`,
    '',
    escapeMarkdown(gate.question),
    '',
    '**Options**',
    '',
  ];
  for (const option of gate.options) {
    const command = optionCommand(gate, option.name);
    const how = `comment ${codeSpan(command)}`;
    lines.push(
      `- **${escapeInline(option.name, 60)}**${option.name === gate.default ? ' (default)' : ''}: ${escapeInline(option.description)} — ${how}`,
    );
  }
  if (gate.id === 'picks') {
    lines.push('- **pick your own**: comment `/optimize pick <f1,f2|all|top N>`');
  }
  lines.push(
    '',
    `**Approve** this pull request to take the default (${codeSpan(gate.default)}). **Request changes** with review comments to re-run ${codeSpan(gate.step)} with each comment as a directive, or comment ${codeSpan(`/optimize rerun ${gate.step} <directive>`)}. \`/optimize stop\` ends the run.`,
    '',
    `This gate is pinned to ${opts.pinnedSha}: an approval counts only for that commit; if the branch moves, the gate is asked again.`,
  );
  if (gate.files.length > 0) {
    lines.push('', '**Read first**', '');
    for (const file of gate.files) {
      const path = `${opts.runDir}/${file}`;
      lines.push(`- [${codeSpan(path)}](${opts.blobBase}/${opts.pinnedSha}/${encodePath(path)})`);
    }
  }
  lines.push('', `@${escapeInline(opts.requester, 60)}, your decision is needed.`, '');
  return lines.join('\n');
}

function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}
