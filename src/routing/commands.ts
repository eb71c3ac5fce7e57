import { parseStepRef, STEPS, type StepId } from '../chain/catalog.js';
import { type PickSelection, PickSelectionError, parsePickSelection } from '../chain/picks.js';
import { commandAfter } from './command-paragraph.js';

/**
 * The `/optimize` comment commands of docs/chain.md. Only the first top-level paragraph whose first
 * line starts with `/optimize` counts; code, quotes, lists and HTML comments never do, nor a
 * prefix with an invisible character in or before it (see command-paragraph.ts). Free text and
 * directives are sanitised: no hidden comments, control or invisible characters.
 *
 * - `/optimize [free text]`: start or resume; the free text (rest of the line and the lines
 *   after it) is the intent.
 * - `/optimize autopilot|stop|status|approve`: the keyword decides; words after it are ignored.
 * - `/optimize pick <f1,f2|all|top N>` and `/optimize rerun <step> [directive]`.
 * - `/optimize answer <option>`: picks a named option of the open gate (`approve` picks the
 *   default). The option is one word (read in lowercase), as gate options are named (`keep`, `no`,
 *   `harder`); whether the open gate has it is checked where the gate is known (the Action).
 *   Like `approve`, it counts only while a gate is open and for the commit the gate is pinned to.
 */

export type ParsedCommand =
  | { kind: 'start'; text: string }
  | { kind: 'autopilot' }
  | { kind: 'stop' }
  | { kind: 'status' }
  | { kind: 'pick'; selection: PickSelection }
  | { kind: 'rerun'; step: StepId; directive: string | null }
  | { kind: 'approve' }
  | { kind: 'answer'; option: string };

/** A `/optimize` command whose arguments cannot be read; `reason` is fit to show the user. */
export interface InvalidCommand {
  kind: 'invalid';
  reason: string;
}

export const COMMAND_PREFIX = '/optimize';

/** Free text and directives longer than this are cut (workflow inputs are small). */
export const MAX_COMMAND_TEXT = 4000;

const KEYWORDS = new Set(['autopilot', 'stop', 'status', 'approve']);
/** The shape of a gate option's name (chain/state.ts `gateOptionSchema`), bounded in length. */
const OPTION = /^[a-z][a-z0-9-]{0,39}$/;
function clip(text: string): string {
  const trimmed = text.trim();
  return trimmed.length <= MAX_COMMAND_TEXT
    ? trimmed
    : trimmed.slice(0, MAX_COMMAND_TEXT).trimEnd();
}

/** The command in a comment body, an `invalid` one with the reason, or null when there is none. */
export function parseOptimizeCommand(body: string): ParsedCommand | InvalidCommand | null {
  const text = commandAfter(body, COMMAND_PREFIX);
  if (text === null) return null;
  const firstLine = text.split('\n', 1)[0]?.trim() ?? '';
  const [word = '', ...args] = firstLine.split(/\s+/);
  const keyword = word.toLowerCase();
  if (KEYWORDS.has(keyword)) return { kind: keyword } as ParsedCommand;
  if (keyword === 'pick') return parsePick(args.join(' '));
  if (keyword === 'rerun') return parseRerun(text.trimStart().slice(word.length));
  if (keyword === 'answer') return parseAnswer(args);
  return { kind: 'start', text: clip(text) };
}

function parsePick(args: string): ParsedCommand | InvalidCommand {
  try {
    return { kind: 'pick', selection: parsePickSelection(args) };
  } catch (error) {
    if (error instanceof PickSelectionError) return { kind: 'invalid', reason: error.message };
    throw error;
  }
}

function parseAnswer(args: string[]): ParsedCommand | InvalidCommand {
  const [word = '', ...extra] = args;
  const option = word.toLowerCase();
  if (option === '' || extra.length > 0 || !OPTION.test(option)) {
    const got = option === '' ? 'no option' : `'${args.join(' ')}'`;
    return {
      kind: 'invalid',
      reason: `expected \`/optimize answer <option>\` with one option of the open gate, a lowercase word such as \`keep\` or \`no\` (got ${got})`,
    };
  }
  return { kind: 'answer', option };
}

function parseRerun(rest: string): ParsedCommand | InvalidCommand {
  const trimmed = rest.trimStart();
  const ref = /^\S*/.exec(trimmed)?.[0] ?? '';
  const step = ref === '' ? null : parseStepRef(ref);
  if (step === null) {
    const steps = Object.values(STEPS)
      .map((s) => `${s.number} ${s.id}`)
      .join(', ');
    return {
      kind: 'invalid',
      reason: `${ref === '' ? 'rerun needs a step' : `'${ref}' is not a step`}: expected \`/optimize rerun <step> [directive]\` with a step number or name (${steps})`,
    };
  }
  const directive = clip(trimmed.slice(ref.length));
  return { kind: 'rerun', step, directive: directive === '' ? null : directive };
}

function formatSelection(selection: PickSelection): string {
  if ('all' in selection) return 'all';
  if ('top' in selection) return `top ${selection.top}`;
  return selection.ids.join(',');
}

/** The canonical comment line(s) for a command; `parseOptimizeCommand` reads it back unchanged. */
export function formatCommand(command: ParsedCommand): string {
  switch (command.kind) {
    case 'start':
      // A paragraph of its own, so text that begins with a keyword (`stop …`) stays free text
      // and no line of it (`---`) can turn the command line into a heading.
      return command.text === '' ? COMMAND_PREFIX : `${COMMAND_PREFIX}\n\n${command.text}`;
    case 'pick':
      return `${COMMAND_PREFIX} pick ${formatSelection(command.selection)}`;
    case 'rerun':
      return `${COMMAND_PREFIX} rerun ${command.step}${command.directive === null ? '' : `\n\n${command.directive}`}`;
    case 'answer':
      return `${COMMAND_PREFIX} answer ${command.option}`;
    default:
      return `${COMMAND_PREFIX} ${command.kind}`;
  }
}
