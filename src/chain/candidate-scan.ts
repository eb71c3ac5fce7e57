import { probeFileSchema } from '../bench/suite.js';
import { SkillOptimizerError } from '../errors.js';
import type { RunStore } from '../store/port.js';
import { parseYaml, validateParsed } from '../text/yaml-file.js';
import { RUN_FILES, STEPS } from './catalog.js';
import { extractDiff } from './diff.js';
import {
  collectProbeLiterals,
  describeFinding,
  indexLiterals,
  type LiteralFinding,
  type LiteralIndex,
  type ProbeText,
  scanDiffAdditions,
  scanText,
} from './probe-literals.js';
import { specFile } from './reports.js';

/**
 * The probe literals of a run, read from its store, and the scan of a candidate (07, 08 with its
 * diff, 09) for them: held-out literals anywhere block the candidate; visible-probe literals on
 * the diff's added skill lines are duct-tape findings the validator is shown.
 */

/** Text the optimizer side or the human already holds: a literal also found here is not distinctive. */
const BACKGROUND = [RUN_FILES.intent, STEPS.functionality.report] as const;

const PROBE_FILE = /^tests\/([^/]+)\/([^/]+)\/(probe\.yaml|grader\.mjs|workspace\/.+|smoke\/.+)$/;

async function textOf(store: RunStore, path: string): Promise<string | null> {
  const bytes = await store.readBytes(path);
  return bytes === null || bytes.includes(0) ? null : bytes.toString('utf8');
}

/** `<functionality>/<probe>` ids marked held-out in a spec.yaml (a probe.yaml may say so too). */
async function heldoutInSpecs(store: RunStore, paths: readonly string[]): Promise<Set<string>> {
  const heldout = new Set<string>();
  for (const path of paths.filter((p) => /^tests\/[^/]+\/spec\.yaml$/.test(p))) {
    const file = `${store.runDir}/${path}`;
    const spec = validateParsed(specFile, parseYaml((await store.read(path)) ?? '', file), file);
    for (const p of spec.probes) if (p.heldout) heldout.add(`${spec.functionality}/${p.id}`);
  }
  return heldout;
}

/**
 * Every probe file as text: probe.yaml's prompt and description, the workspace, the smoke
 * fixtures and the grader (as code). A probe is held-out when its spec or its probe.yaml says so.
 */
export async function readProbeTexts(store: RunStore): Promise<ProbeText[]> {
  const paths = await store.list(RUN_FILES.tests);
  const specHeldout = await heldoutInSpecs(store, paths);
  const files = paths.flatMap((path) => {
    const m = PROBE_FILE.exec(path);
    return m?.[1] === undefined || m[2] === undefined || m[3] === undefined
      ? []
      : [{ path, probe: `${m[1]}/${m[2]}`, kind: m[3] }];
  });
  const yamls = new Map<string, { heldout: boolean; prose: string }>();
  for (const f of files.filter((f) => f.kind === 'probe.yaml')) {
    const file = `${store.runDir}/${f.path}`;
    const parsed = validateParsed(
      probeFileSchema,
      parseYaml((await store.read(f.path)) ?? '', file),
      file,
    );
    const prose = [parsed.prompt, parsed.description ?? ''].join('\n\n');
    yamls.set(f.probe, { heldout: parsed.heldout, prose });
  }
  const texts: ProbeText[] = [];
  for (const f of files) {
    const heldout = specHeldout.has(f.probe) || yamls.get(f.probe)?.heldout === true;
    const text = f.kind === 'probe.yaml' ? yamls.get(f.probe)?.prose : await textOf(store, f.path);
    if (text === null || text === undefined) continue;
    texts.push({ probe: f.probe, heldout, file: f.path, text, code: f.kind === 'grader.mjs' });
  }
  return texts;
}

/** The original skill (vendored-skill/), the intent and step 1's report. */
async function readBackground(store: RunStore): Promise<string[]> {
  const texts: string[] = [];
  for (const path of await store.list(RUN_FILES.vendored)) {
    const text = await textOf(store, path);
    if (text !== null) texts.push(text);
  }
  for (const path of BACKGROUND) {
    const text = await store.read(path);
    if (text !== null) texts.push(text);
  }
  return texts;
}

/** The run's probe literals, compiled for scanning. */
export async function readProbeLiterals(store: RunStore): Promise<LiteralIndex> {
  return indexLiterals(
    collectProbeLiterals(await readProbeTexts(store), await readBackground(store)),
  );
}

/** A report of steps 7–9 carries a literal of a held-out probe: the candidate is blocked. */
export class HeldoutLiteralError extends SkillOptimizerError {
  constructor(
    readonly step: string,
    readonly findings: readonly LiteralFinding[],
    retry?: string,
  ) {
    super(
      `${step} carries ${findings.length} literal${findings.length === 1 ? '' : 's'} of held-out probes, which steps 7–9 must never see, so the candidate is blocked: ${findings.map(describeFinding).join('; ')}`,
      retry === undefined ? {} : { retry },
    );
  }
}

/** Throws HeldoutLiteralError when any finding is held-out. */
export function assertNoHeldout(
  step: string,
  findings: readonly LiteralFinding[],
  retry?: string,
): void {
  const heldout = findings.filter((f) => f.heldout);
  if (heldout.length > 0) throw new HeldoutLiteralError(step, heldout, retry);
}

/** Visible-probe findings on the added lines of a proposal's diff. */
export function ductTapeFindings(diff: string, index: LiteralIndex): LiteralFinding[] {
  return scanDiffAdditions(diff, index).filter((f) => !f.heldout);
}

export interface CandidateScan {
  /** Held-out literals in 07, 08 (and its diff) or 09: the candidate must not be kept. */
  heldout: LiteralFinding[];
  /** Visible-probe literals on the diff's added lines: duct tape, a reason to revise or reject. */
  ductTape: LiteralFinding[];
}

/** Scans the current candidate: 07, 08, 09 as written and 08's diff. Missing reports are skipped. */
export async function scanCandidate(store: RunStore): Promise<CandidateScan> {
  const index = await readProbeLiterals(store);
  const heldout: LiteralFinding[] = [];
  for (const step of [STEPS.analyze, STEPS.improve, STEPS.validate]) {
    const text = await store.read(step.report);
    if (text !== null) heldout.push(...scanText(text, step.report, index).filter((f) => f.heldout));
  }
  const proposal = await store.read(STEPS.improve.report);
  const diff = proposal === null ? null : extractDiff(proposal);
  return { heldout, ductTape: diff === null ? [] : ductTapeFindings(diff, index) };
}
