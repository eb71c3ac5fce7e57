import { lstat, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { z } from 'zod';
import { PathEscapeError } from '../../errors.js';
import type { Sandbox } from '../sandbox/index.js';
import { resolveInside } from '../sandbox/paths.js';

/**
 * The skill-under-test agent's tools (docs/suite-format.md). Every path is resolved inside the trial's
 * workspace copy (or, for read_skill_file, the skill folder); commands run in the sandbox.
 */

export const TOOL_LIMITS = {
  maxReadBytes: 100_000,
  maxWriteBytes: 1_000_000,
  maxListEntries: 500,
  commandTimeoutMs: 60_000,
  commandOutputBytes: 32_000,
} as const;

const pathArg = z.string().min(1).describe('Path relative to the project folder');

const toolInputs = {
  list_files: z
    .object({ path: z.string().optional().describe('Folder to list, default the project root') })
    .strict(),
  read_file: z.object({ path: pathArg }).strict(),
  write_file: z
    .object({ path: pathArg, content: z.string().describe('Full new file content') })
    .strict(),
  edit_file: z
    .object({
      path: pathArg,
      old_text: z.string().min(1).describe('Exact text to replace; must occur exactly once'),
      new_text: z.string().describe('Replacement text'),
    })
    .strict(),
  run_command: z
    .object({ command: z.string().min(1).describe('Shell command, run in the project folder') })
    .strict(),
  read_skill_file: z
    .object({ path: z.string().min(1).describe('Path relative to the skill folder') })
    .strict(),
} as const;

export type ToolName = keyof typeof toolInputs;

/** A call a tool turns down (a folder to read, an ambiguous edit, an oversized write). */
class ToolRefusal extends Error {}

const descriptions: Record<ToolName, string> = {
  list_files: 'List files under a folder of the project (recursive).',
  read_file: 'Read a text file of the project.',
  write_file: 'Create or overwrite a file of the project.',
  edit_file: 'Replace one exact occurrence of text in a file of the project.',
  run_command: 'Run a shell command in the project folder and return its exit code and output.',
  read_skill_file: "Read one of the installed skill's own files.",
};

export interface ToolDefinition {
  name: ToolName;
  description: string;
  input_schema: { type: 'object'; [key: string]: unknown };
}

const definitionCache = new Map<boolean, readonly ToolDefinition[]>();

/** The tool list offered to the agent; built once per variant (with or without the skill). */
export function toolDefinitions(withSkill: boolean): readonly ToolDefinition[] {
  let defs = definitionCache.get(withSkill);
  if (defs === undefined) {
    defs = buildToolDefinitions(withSkill);
    definitionCache.set(withSkill, defs);
  }
  return defs;
}

function buildToolDefinitions(withSkill: boolean): ToolDefinition[] {
  const names = (Object.keys(toolInputs) as ToolName[]).filter(
    (n) => withSkill || n !== 'read_skill_file',
  );
  return names.map((name) => {
    const { $schema: _drop, ...schema } = z.toJSONSchema(toolInputs[name]) as Record<
      string,
      unknown
    >;
    return {
      name,
      description: descriptions[name],
      input_schema: { ...schema, type: 'object' },
    };
  });
}

export interface ToolContext {
  workspaceDir: string;
  skillDir: string | null;
  sandbox: Sandbox;
  /** Milliseconds left in the trial; commands never outlive it. */
  remainingMs: () => number;
}

export interface ToolOutcome {
  content: string;
  isError: boolean;
}

/** Runs one tool call. Bad input and refused paths come back as tool errors the model can read. */
export async function executeTool(
  name: string,
  input: unknown,
  ctx: ToolContext,
): Promise<ToolOutcome> {
  if (!(name in toolInputs) || (name === 'read_skill_file' && ctx.skillDir === null)) {
    return { isError: true, content: `Unknown tool '${name}'.` };
  }
  const tool = name as ToolName;
  const parsed = toolInputs[tool].safeParse(input);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`);
    return { isError: true, content: `Invalid input for ${tool}: ${issues.join('; ')}` };
  }
  try {
    return { isError: false, content: await run(tool, parsed.data, ctx) };
  } catch (error) {
    if (error instanceof PathEscapeError || error instanceof ToolRefusal || isFsError(error)) {
      return { isError: true, content: error.message };
    }
    throw error;
  }
}

function isFsError(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).code === 'string';
}

async function run(
  tool: ToolName,
  input: Record<string, unknown>,
  ctx: ToolContext,
): Promise<string> {
  const ws = ctx.workspaceDir;
  switch (tool) {
    case 'list_files': {
      const root = await resolveInside(ws, (input.path as string | undefined) ?? '.');
      const entries = await listRecursive(root, ws, TOOL_LIMITS.maxListEntries);
      return entries.length === 0 ? '(empty)' : entries.join('\n');
    }
    case 'read_file':
      return readCapped(await resolveInside(ws, input.path as string));
    case 'read_skill_file': {
      const skillDir = ctx.skillDir as string;
      return readCapped(await resolveInside(skillDir, input.path as string));
    }
    case 'write_file': {
      const content = input.content as string;
      if (Buffer.byteLength(content) > TOOL_LIMITS.maxWriteBytes) {
        throw new ToolRefusal(
          `Refused: content is larger than ${TOOL_LIMITS.maxWriteBytes} bytes.`,
        );
      }
      const file = await resolveInside(ws, input.path as string);
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, content);
      return `Wrote ${Buffer.byteLength(content)} bytes to ${input.path as string}.`;
    }
    case 'edit_file': {
      const file = await resolveInside(ws, input.path as string);
      const text = await readFile(file, 'utf8');
      const oldText = input.old_text as string;
      const count = text.split(oldText).length - 1;
      if (count !== 1) {
        throw new ToolRefusal(
          `old_text occurs ${count} times in ${input.path as string}; it must occur exactly once.`,
        );
      }
      await writeFile(
        file,
        text.replace(oldText, () => input.new_text as string),
      );
      return `Edited ${input.path as string}.`;
    }
    case 'run_command': {
      const timeoutMs = Math.max(1_000, Math.min(TOOL_LIMITS.commandTimeoutMs, ctx.remainingMs()));
      const r = await ctx.sandbox.runShell(input.command as string, {
        cwd: ws,
        timeoutMs,
        maxOutputBytes: TOOL_LIMITS.commandOutputBytes,
      });
      const status = r.timedOut
        ? `timed out after ${timeoutMs} ms`
        : r.signal
          ? `killed by ${r.signal}`
          : `exit code ${r.exitCode}`;
      const parts = [`[${status}${r.truncated ? ', output truncated' : ''}]`];
      if (r.stdout) parts.push(`stdout:\n${r.stdout}`);
      if (r.stderr) parts.push(`stderr:\n${r.stderr}`);
      return parts.join('\n');
    }
  }
}

async function readCapped(file: string): Promise<string> {
  const info = await stat(file);
  if (info.isDirectory()) throw new ToolRefusal('That path is a folder.');
  const buf = await readFile(file);
  if (buf.length <= TOOL_LIMITS.maxReadBytes) return buf.toString('utf8');
  return `${buf.subarray(0, TOOL_LIMITS.maxReadBytes).toString('utf8')}\n[truncated: file has ${buf.length} bytes]`;
}

async function listRecursive(dir: string, root: string, max: number): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    const entries = (await readdir(d, { withFileTypes: true })).sort((a, b) =>
      a.name.localeCompare(b.name),
    );
    for (const e of entries) {
      if (out.length >= max) return;
      const full = join(d, e.name);
      const rel = relative(root, full).split(sep).join('/');
      if (e.isDirectory()) {
        out.push(`${rel}/`);
        await walk(full);
      } else {
        out.push(rel);
      }
    }
  };
  await walk(dir);
  if (out.length >= max) out.push(`[listing stopped at ${max} entries]`);
  return out;
}

/** Total bytes under a folder, not following symlinks; guards against disk-heavy trials. */
export async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  const entries = await readdir(dir, { withFileTypes: true });
  for (const e of entries) {
    const full = join(dir, e.name);
    if (e.isDirectory()) total += await folderBytes(full);
    else total += (await lstat(full)).size;
  }
  return total;
}
