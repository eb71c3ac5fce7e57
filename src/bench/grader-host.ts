/**
 * Loads the grader named by `input` (dependency hooks first), calls it and leaves in `line` the
 * JSON of the outcome: `{ kind: 'returned', value }` or `{ kind: 'threw' | 'badModule' |
 * 'unserializable', detail }`. Shared by both hosts; expects `register`, `pathToFileURL` and
 * `input` in scope.
 */
export const GRADE_SOURCE = String.raw`
// Stack frames of this host program say nothing about the grader.
const describe = (error) =>
  error instanceof Error
    ? (error.stack ?? error.message)
        .split('\n')
        .filter((line) => !line.includes('[eval') && !line.includes('data:text/javascript'))
        .join('\n')
    : String(error);

// Bare specifiers only: a missing relative file or node: built-in stays the grader's error.
const DEPENDENCY_HOOKS = [
  'let fallbackParent;',
  'export async function initialize(data) { fallbackParent = data.parentURL; }',
  'export async function resolve(specifier, context, nextResolve) {',
  '  try { return await nextResolve(specifier, context); } catch (error) {',
  "    const bare = !/^(?:[./]|[a-zA-Z][a-zA-Z0-9+.-]*:)/.test(specifier);",
  "    if (!bare || error?.code !== 'ERR_MODULE_NOT_FOUND') throw error;",
  '    return nextResolve(specifier, { ...context, parentURL: fallbackParent });',
  '  }',
  '}',
].join('\n');
if (typeof input.dependenciesDir === 'string') {
  register('data:text/javascript,' + encodeURIComponent(DEPENDENCY_HOOKS), {
    data: { parentURL: pathToFileURL(input.dependenciesDir + '/package.json').href },
  });
}

let outcome;
let grade;
try {
  grade = (await import(pathToFileURL(input.graderPath).href)).default;
  if (typeof grade !== 'function') {
    outcome = {
      kind: 'badModule',
      detail:
        'does not default-export a grade function (its default export is ' + typeof grade + ')',
    };
  }
} catch (error) {
  outcome = { kind: 'badModule', detail: 'failed to load: ' + describe(error) };
}
if (outcome === undefined) {
  try {
    const value = await grade({
      workspaceDir: input.workspaceDir,
      transcript: input.transcript,
      finalMessage: input.finalMessage,
    });
    outcome = { kind: 'returned', value: value === undefined ? null : value };
  } catch (error) {
    outcome = { kind: 'threw', detail: describe(error) };
  }
}
let line;
try {
  line = JSON.stringify(outcome);
} catch (error) {
  line = JSON.stringify({ kind: 'unserializable', detail: describe(error) });
}
`;

/**
 * The program `runGrader` runs with `node --input-type=module --eval` inside the sandbox. It is
 * source text rather than a file next to this module so that bundling the CLI or the Action
 * cannot lose it.
 *
 * Protocol: stdin carries one JSON object `{ graderPath, workspaceDir, transcript, finalMessage,
 * marker, dependenciesDir }`. When `dependenciesDir` (a folder holding `node_modules/`) is set, a
 * bare import the grader's own folder cannot resolve is resolved from there instead. The grader's
 * own writes to process.stdout (console.log included) go to stderr, so
 * stdout holds only the host's last line: `marker` followed by JSON, either
 * `{ "kind": "returned", "value": <what grade returned> }` or
 * `{ "kind": "threw" | "badModule" | "unserializable", "detail": <text> }`.
 * `marker` is random per run, so nothing the workspace contains can forge a result.
 */
export const GRADER_HOST_SOURCE = String.raw`
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';

const writeResultLine = process.stdout.write.bind(process.stdout);
process.stdout.write = process.stderr.write.bind(process.stderr);

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString('utf8'));
${GRADE_SOURCE}
writeResultLine('\n' + input.marker + line + '\n', () => process.exit(0));
`;
