import { describe, expect, it } from 'vitest';
import { renderGateReview } from '../../src/action/gate-review.js';
import { gateSpecs, openGate } from '../../src/chain/gates.js';
import type { OpenGate } from '../../src/chain/state.js';
import { REDACTED } from '../../src/text/redact.js';

/** The gate review with model-written text in its question: shown, never acted on. */

const ZWJ = '\u200D';
const SHA = 'a'.repeat(40);
const KEY = `sk-ant-api03-${'GateLeak__'.repeat(9)}PP`;

function review(gate: OpenGate): string {
  return renderGateReview({
    gate,
    slug: 'demo',
    runDir: '.skill-optimizer/demo',
    pinnedSha: SHA,
    blobBase: 'https://github.com/acme/skills/blob',
    requester: 'octocat',
  });
}

/** The body's lines between the heading and the options: the question as posted. */
function question(body: string): string {
  const lines = body.split('\n');
  return lines.slice(3, lines.indexOf('**Options**') - 1).join('\n');
}

describe('renderGateReview with a hostile question', () => {
  it('a verdict summary cannot mention, add HTML or links, or leak a key', () => {
    const summary = `Looks fine @octocat @acme/admins <img src=x onerror=alert(1)> <!-- hide --> [docs](https://evil.example) www.evil.example ${KEY}`;
    const gate = openGate(gateSpecs.verdict('pass` <b>', summary), 'validate', new Date(0));
    expect(question(review(gate))).toBe(
      `The validator's verdict is \`\`pass\` <b>\`\`: Looks fine @${ZWJ}octocat @${ZWJ}acme/admins &lt;img src=x onerror=alert(1)&gt;  \\[docs\\](https:${ZWJ}//evil.example) www${ZWJ}.evil.example \\[REDACTED\\] Stop here, or give the optimizer a directive (skill-optimizer rerun improve --directive "...")?`,
    );
  });

  it('a build plan keeps its list and code spans, and nothing breaks out of them', () => {
    const plan = '- `probe-1`: new\n- `x`` ` @evil <i>` and a lone ` backtick';
    const gate = openGate(gateSpecs.buildPlan(plan), 'design-tests', new Date(0));
    expect(question(review(gate))).toBe(
      [
        'Approve the build plan before the probe writers are dispatched?',
        '',
        '- `probe-1`: new',
        // Paired as CommonMark pairs them: two code spans, re-fenced; the prose between escaped.
        `- \`\`\`x\`\` \`\`\` @${ZWJ}evil &lt;i&gt;\`and a lone\` backtick`,
      ].join('\n'),
    );
  });

  it('a question edited on the work branch is escaped as well (chain.yml is not trusted)', () => {
    const gate: OpenGate = {
      ...openGate(gateSpecs.allPass(), 'bench', new Date(0)),
      question: `</details><script>x</script> \`\`\`\nping @octocat ${KEY}`,
    };
    const body = review(gate);
    expect(question(body)).toBe(
      `&lt;/details&gt;&lt;script&gt;x&lt;/script&gt; \\\`\\\`\\\`\nping @${ZWJ}octocat ${REDACTED.replace('[', '\\[').replace(']', '\\]')}`,
    );
    // The bot's own mention of the requester still works.
    expect(body).toContain('\n@octocat, your decision is needed.');
  });
});
