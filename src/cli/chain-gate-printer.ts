import type { ChainState } from '../chain/state.js';
import type { CliIO } from './io.js';

/** Prints the open gate and the commands that answer it. */
export function printGate(state: ChainState, skillPath: string, io: CliIO): void {
  const gate = state.open_gate;
  if (gate === null) return;
  const skill = `--skill ${skillPath}`;
  const lines = [
    '',
    `waiting at the ${gate.id} gate (after step ${gate.step}):`,
    gate.question,
    '',
    'answer with one of:',
  ];
  for (const option of gate.options) {
    const command =
      option.name === gate.default
        ? `skill-optimizer approve ${skill}`
        : `skill-optimizer answer ${option.name} ${skill}`;
    lines.push(
      `  ${command}    # ${option.name}: ${option.description}${option.name === gate.default ? ' (default)' : ''}`,
    );
  }
  if (gate.id === 'picks') lines.push(`  skill-optimizer pick <f1,f2|all|top N> ${skill}`);
  lines.push(
    `  skill-optimizer rerun <step> --directive "..." ${skill}`,
    `  skill-optimizer stop ${skill}`,
  );
  if (gate.files.length > 0) lines.push('', `look at: ${gate.files.map((f) => f).join(', ')}`);
  io.stdout.write(`${lines.join('\n')}\n`);
}
