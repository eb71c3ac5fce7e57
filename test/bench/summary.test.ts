import { describe, expect, it } from 'vitest';
import { compareResults } from '../../src/bench/compare.js';
import { inlineText, renderComparison, renderSummary } from '../../src/bench/summary.js';
import type { TrialRecord } from '../../src/bench/types.js';
import { trialRecord, trials } from './trial-record.js';

const records: TrialRecord[] = [
  ...trials({ passes: 2, fails: 1 }, { probe: 'csv/sums', skill_triggered: true }),
  ...trials({ passes: 1, fails: 1, errors: 1 }, { probe: 'csv/mean', heldout: true }),
  ...trials({ passes: 0, fails: 3 }, { probe: 'csv/sums', baseline: true }),
  ...trials({ passes: 1, fails: 2 }, { probe: 'csv/mean', baseline: true, heldout: true }),
];

const lineStarting = (text: string, start: string) => {
  const line = text.split('\n').find((l) => l.startsWith(start));
  if (line === undefined) throw new Error(`no line starting with ${start}:\n${text}`);
  return line;
};

describe('renderSummary', () => {
  const md = renderSummary({ title: 'Bench: csv-report', records, meta: { trials: 3 } });

  it('states runner, isolation and totals', () => {
    expect(md.startsWith('# Bench: csv-report\n')).toBe(true);
    expect(md).toContain('- Runner: `messages`');
    expect(md).toContain('- Isolation: bubblewrap');
    expect(md).not.toContain('weaker');
    expect(md).toContain(
      '- Trials: 12 (1 error, counted neither as pass nor as fail) — 3 per probe and model',
    );
    expect(md).toContain('- Tokens: 1,200 input · 240 output · 600 cache read · 60 cache write');
    expect(md).toContain('- Cost: $0.0120');
  });

  it('has a row per probe with rate, interval, score, pass@k, pass^k, errors, baseline and trigger rate', () => {
    expect(lineStarting(md, '| probe ')).toBe(
      '| probe | held-out | trials | pass rate | 95% CI | mean score | pass@1 | pass^1 | errors | baseline pass rate | trigger rate |',
    );
    expect(lineStarting(md, '| `csv/sums` ')).toBe(
      '| `csv/sums` | no | 3 | 66.7% (2/3) | 20.8%–93.9% | 0.67 | 66.7% | 66.7% | 0 | 0.0% (0/3) | 100.0% |',
    );
    expect(lineStarting(md, '| `csv/mean` ')).toBe(
      '| `csv/mean` | yes | 3 | 50.0% (1/2) | 9.5%–90.5% | 0.50 | 50.0% | 50.0% | 1 | 33.3% (1/3) | – |',
    );
  });

  it('gives the mean and the weakest probe per model, with and without the skill', () => {
    expect(lineStarting(md, '| **mean** ')).toBe(
      '| **mean** |  | 6 | 58.3% |  |  |  |  | 1 | 16.7% | 100.0% |',
    );
    expect(lineStarting(md, '| **minimum** ')).toBe(
      '| **minimum** |  |  | 50.0% (`csv/mean`) |  |  |  |  |  | 0.0% (`csv/sums`) |  |',
    );
    expect(md).toContain('Held-out probes: 50.0% (1/2); other probes: 66.7% (2/3).');
    expect(lineStarting(md, 'Skill vs no skill: ')).toBe(
      'Skill vs no skill: 58.3% with the skill, 16.7% without (mean of probes); over all graded trials 60.0% vs 16.7%, +43.3 pts: within noise.',
    );
  });

  it('lists failed and error trials with probe, model, trial and the first line of the reason', () => {
    const section = md.slice(md.indexOf('## Failed and error trials'));
    expect(section).toContain(
      '- `csv/mean` · `model-a` · trial 3 · **error** (error): runner crashed',
    );
    expect(section).toContain(
      '- `csv/sums` · `model-a` · trial 3 · **fail** (end_turn): wrong total',
    );
    expect(section).toContain(
      '- `csv/sums` · `model-a` · trial 1 · no skill · **fail** (end_turn): wrong total',
    );
    expect(section.split('\n').filter((l) => l.startsWith('- '))).toHaveLength(8);
  });

  it('leaves out baseline and trigger columns when nothing recorded them', () => {
    const plain = renderSummary({ title: 't', records: trials({ passes: 3, fails: 0 }) });
    expect(lineStarting(plain, '| probe ')).toBe(
      '| probe | held-out | trials | pass rate | 95% CI | mean score | pass@1 | pass^1 | errors |',
    );
    expect(lineStarting(plain, '| `csv/sums` ')).toBe(
      '| `csv/sums` | no | 3 | 100.0% (3/3) | 43.9%–100.0% | 1.00 | 100.0% | 100.0% | 0 |',
    );
    expect(plain).not.toContain('Skill vs no skill');
    expect(plain).toContain('None: every trial passed.');
  });

  it('says plainly when trials ran at the weaker process isolation', () => {
    const weak = renderSummary({
      title: 't',
      records: trials({ passes: 1, fails: 0 }, { isolation: 'process' }),
    });
    expect(lineStarting(weak, '- Isolation: ')).toMatch(
      /^- Isolation: \*\*process — the weaker level\*\*: trials ran without bubblewrap/,
    );
    const explicit = renderSummary({
      title: 't',
      records,
      isolation: 'process',
      runner: 'claude-code',
    });
    expect(explicit).toContain('the weaker level');
    expect(explicit).toContain('- Runner: `claude-code`');
  });

  it('puts the weaker-isolation warning right under the title, and only then', () => {
    const weak = renderSummary({ title: 't', records, isolation: 'process' });
    expect(weak.split('\n').slice(0, 3)).toEqual([
      '# t',
      '',
      expect.stringMatching(
        /^> \*\*Warning: weaker isolation\.\*\* Trials and graders ran as plain processes/,
      ),
    ]);
    const strong = renderSummary({ title: 't', records, isolation: 'bubblewrap' });
    expect(strong).not.toContain('Warning');
  });

  it('names excluded probes and the shard', () => {
    const out = renderSummary({
      title: 't',
      records,
      meta: { shard: '2/4' },
      excluded: [{ probe: 'csv/bad', reasons: ['smoke/good: failed', 'smoke/bad: passed'] }],
    });
    expect(out).toContain('- Shard: 2/4');
    expect(out).toContain(
      '- Excluded probe `csv/bad`: its grader failed the smoke check — smoke/good: failed; smoke/bad: passed',
    );
  });

  it('keeps model-written text from shaping the markdown', () => {
    const hostile = trialRecord({
      probe: 'a|b',
      status: 'fail',
      grader: {
        pass: false,
        reasons: ['', '<!-- hide --> **x** | [l](http://e)\u202Eevil\nsecond line'],
      },
    });
    const out = renderSummary({ title: 'T', records: [hostile] });
    expect(out).toContain('| `a\\|b` | no |');
    expect(out).toContain(
      '- `a|b` · `model-a` · trial 1 · **fail** (end_turn): \\<\\!-- hide --\\> \\*\\*x\\*\\* \\| \\[l\\](http://e)evil',
    );
    expect(out).not.toContain('second line');
    expect(out).not.toContain('\u202E');
    expect(inlineText('x'.repeat(300))).toHaveLength(200);
  });

  it('appends the before/after comparison', () => {
    const before = [
      ...trials({ passes: 0, fails: 3 }, { probe: 'h', heldout: true }),
      ...trials({ passes: 3, fails: 0 }, { probe: 'a' }),
    ];
    const after = [
      ...trials({ passes: 3, fails: 0 }, { probe: 'h', heldout: true }),
      ...trials({ passes: 3, fails: 0 }, { probe: 'a' }),
    ];
    const comparison = compareResults(before, after);
    const out = renderSummary({ title: 't', records: after, comparison });
    expect(out).toContain(renderComparison(comparison).trimEnd());
    // Per probe at the one-sided 95% regression bound (z = 1.645); the held-out pool at the
    // two-sided 95% interval of the improvement claim (z = 1.96).
    expect(out).toContain(
      '| `model-a` | `h` | yes | 0.0% (0/3) | 100.0% (3/3) | +100.0 pts | +32.9 pts to +100.0 pts | better |',
    );
    expect(out).toContain(
      '| **held-out probes** |  | yes | 0.0% (0/3) | 100.0% (3/3) | +100.0 pts | +20.6 pts to +100.0 pts | better |',
    );
    expect(out).toContain('**Verdict: improved** — the candidate is kept.');
    expect(out).toContain(
      '- held-out pass rate rose beyond noise: 0.0% (0/3) → 100.0% (3/3), +100.0 pts, interval \\[+20.6, +100.0\\] points',
    );
  });
});
