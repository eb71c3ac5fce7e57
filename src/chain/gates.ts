import { SkillOptimizerError } from '../errors.js';
import type { FileChange } from '../store/port.js';
import { codeSpan } from '../text/escape-markdown.js';
import { STEPS } from './catalog.js';
import { applyPicks, readSpecs } from './picks.js';
import type { ChainDeps } from './ports.js';
import type { ChainState, GateId, OpenGate } from './state.js';
import { type BuildPlan, buildPlan } from './steps/write-tests.js';

/**
 * Gates (docs/chain.md): what is asked, the options, the default autopilot takes, and what each
 * answer does to the run. Answers are recorded as decisions (who, when) in chain.yml.
 */

export class GateAnswerError extends SkillOptimizerError {}

export interface GateSpec {
  id: GateId;
  question: string;
  options: Array<{ name: string; description: string }>;
  default: string;
  files: string[];
}

export function openGate(spec: GateSpec, step: OpenGate['step'], now: Date): OpenGate {
  return { ...spec, step, asked_at: now.toISOString() };
}

export const gateSpecs = {
  wrapper(pointsTo: string | null): GateSpec {
    return {
      id: 'wrapper',
      question: `Step 1 found that this SKILL.md is likely a thin wrapper${pointsTo ? ` pointing to ${codeSpan(pointsTo)}` : ''}. Optimise the target instead, keep optimising the wrapper, or cancel?`,
      options: [
        { name: 'revendor', description: 'vendor the target the wrapper points to and start over' },
        { name: 'keep', description: 'optimise the wrapper as it is' },
        { name: 'cancel', description: 'stop this run' },
      ],
      default: 'revendor',
      files: [STEPS.functionality.report],
    };
  },
  upstreamIntent(detected: boolean, fallback: boolean): GateSpec {
    return {
      id: 'upstream-intent',
      question: `Should the result be proposed upstream as a draft PR? Step 1 read the intent as ${detected ? 'upstream-bound' : 'not upstream-bound'}.`,
      options: [
        { name: 'yes', description: 'upstream-bound: research the upstream repository (step 2)' },
        { name: 'no', description: 'keep the result in this repository' },
      ],
      default: fallback || detected ? 'yes' : 'no',
      files: [STEPS.functionality.report],
    };
  },
  picks(defaultTop: number): GateSpec {
    return {
      id: 'picks',
      question: `Which proposed functionalities should get probes? Pick them (or approve to take the top ${defaultTop} by priority).`,
      options: [
        {
          name: 'approve',
          description: `pick the top ${defaultTop} by priority (or keep the picks already made)`,
        },
      ],
      default: 'approve',
      files: [STEPS['design-tests'].report],
    };
  },
  buildPlan(plan: string): GateSpec {
    return {
      id: 'build-plan',
      question: `Approve the build plan before the probe writers are dispatched?\n\n${plan}`,
      options: [{ name: 'approve', description: 'write these probes' }],
      default: 'approve',
      files: [STEPS['design-tests'].report],
    };
  },
  allPass(): GateSpec {
    return {
      id: 'all-pass',
      question:
        'Every probe passes with the current skill. Accept and stop, or design harder probes?',
      options: [
        { name: 'accept', description: 'accept the skill and finish' },
        { name: 'harder', description: 're-run design-tests with a "harder probes" directive' },
      ],
      default: 'accept',
      files: [STEPS.bench.report],
    };
  },
  verdict(verdict: string, summary: string): GateSpec {
    return {
      id: 'verdict',
      question: `The validator's verdict is ${codeSpan(verdict)}: ${summary} Stop here, or give the optimizer a directive (skill-optimizer rerun improve --directive "...")?`,
      options: [{ name: 'stop', description: 'stop and write the report' }],
      default: 'stop',
      files: [STEPS.validate.report, STEPS.improve.report],
    };
  },
  baseline(nonDiscriminating: readonly string[]): GateSpec {
    const probes =
      nonDiscriminating.length > 0
        ? ` Probes that pass without the skill: ${nonDiscriminating.map((p) => `\`${p}\``).join(', ')}.`
        : '';
    return {
      id: 'baseline',
      question: `The skill adds nothing measurable on these probes: the kept skill is not better than the same agent without it beyond noise.${probes} Publish the improvement anyway, or finish without publishing?`,
      options: [
        { name: 'no-publish', description: 'finish without publishing the improvement' },
        {
          name: 'publish-anyway',
          description: 'publish although the skill does not beat the no-skill baseline',
        },
      ],
      default: 'no-publish',
      files: [STEPS.bench.report],
    };
  },
} as const;

export interface GateEffect {
  changes: FileChange[];
  update: (state: ChainState) => ChainState;
  /** Set when the answer ends the run. */
  finish?: { status: 'done' | 'stopped'; reason: string };
  /** Set when the answer needs the wrapper target vendored (done by the driver). */
  revendor?: true;
}

export const HARDER_DIRECTIVE =
  'Every probe passed with the current skill. Propose harder probes for the same responsibilities: edge cases, combined requirements and realistic messy inputs that a weak skill would fail.';

/** What an answer does; unknown options are refused with the valid ones listed. */
export async function gateEffect(
  deps: ChainDeps,
  state: ChainState,
  gate: OpenGate,
  answer: string,
): Promise<GateEffect> {
  if (!gate.options.some((o) => o.name === answer)) {
    throw new GateAnswerError(
      `'${answer}' is not an answer to the ${gate.id} gate; choose one of: ${gate.options.map((o) => o.name).join(', ')}`,
    );
  }
  const none = (s: ChainState) => s;
  switch (gate.id) {
    case 'wrapper':
      if (answer === 'cancel')
        return {
          changes: [],
          update: none,
          finish: { status: 'stopped', reason: 'cancelled at the wrapper gate' },
        };
      if (answer === 'keep') return { changes: [], update: (s) => ({ ...s, wrapper: 'keep' }) };
      return { changes: [], update: (s) => ({ ...s, wrapper: 'revendor' }), revendor: true };
    case 'upstream-intent':
      return { changes: [], update: (s) => ({ ...s, upstream: answer === 'yes' }) };
    case 'picks': {
      // Picks a human already made (by `pick` or by editing spec.yaml) are the answer.
      const settled = (st: ChainState) => ({ ...st, picks_pending: false });
      if ((await readSpecs(deps.store)).some((spec) => spec.picked)) {
        return { changes: [], update: settled };
      }
      const picks = await applyPicks(deps.store, { top: deps.config.picks.default_top });
      return { changes: picks.changes, update: settled };
    }
    case 'build-plan': {
      const key = planKey(await buildPlan(deps.store, state.directives['write-tests'] ?? []));
      return { changes: [], update: (s) => ({ ...s, build_plan_approved: key }) };
    }
    case 'all-pass':
      if (answer === 'accept')
        return {
          changes: [],
          update: none,
          finish: { status: 'done', reason: 'every probe passes; accepted at the gate' },
        };
      return {
        changes: [],
        update: (s) => ({
          ...s,
          directives: {
            ...s.directives,
            'design-tests': [...(s.directives['design-tests'] ?? []), HARDER_DIRECTIVE],
          },
        }),
      };
    case 'verdict':
      return {
        changes: [],
        update: none,
        finish: { status: 'stopped', reason: 'stopped at the verdict gate' },
      };
    case 'baseline':
      // The answer is the decision publishing reads; the run then ends as it was about to.
      return {
        changes: [],
        update: (s) => ({ ...s, pending_finish: null }),
        finish: state.pending_finish ?? { status: 'done', reason: 'finished' },
      };
  }
}

/** Identifies a build plan, so an approval covers exactly the probes it showed. */
export function planKey(plan: BuildPlan): string {
  return plan.write
    .map((p) => `${p.id}:${p.reason}`)
    .sort()
    .join(',');
}
