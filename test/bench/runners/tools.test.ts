import { mkdir, mkdtemp, readFile, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  executeTool,
  folderBytes,
  TOOL_LIMITS,
  type ToolContext,
  toolDefinitions,
} from '../../../src/bench/runners/tools.js';
import { createSandbox, type Sandbox } from '../../../src/bench/sandbox/index.js';

const SKILL_DIR = path.resolve('test/fixtures/bench-bad/skill');

let sandbox: Sandbox;
let root: string;
let ws: string;
let outside: string;

beforeAll(async () => {
  sandbox = await createSandbox('auto', { secretInReach: false });
});

beforeEach(async () => {
  root = await realpath(await mkdtemp(path.join(tmpdir(), 'tools-test-')));
  ws = path.join(root, 'workspace');
  outside = path.join(root, 'outside');
  await mkdir(path.join(ws, 'src'), { recursive: true });
  await mkdir(outside);
  await writeFile(path.join(ws, 'notes.txt'), 'alpha beta alpha\n');
  await writeFile(path.join(ws, 'src', 'main.js'), 'console.log(1);\n');
  await writeFile(path.join(outside, 'secret.txt'), 'OUTSIDE-SECRET\n');
  // A link that looks like a folder of the project but leads outside it.
  await symlink(outside, path.join(ws, 'linked'));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

function ctx(over: Partial<ToolContext> = {}): ToolContext {
  return { workspaceDir: ws, skillDir: SKILL_DIR, sandbox, remainingMs: () => 60_000, ...over };
}

const call = (name: string, input: unknown, over: Partial<ToolContext> = {}) =>
  executeTool(name, input, ctx(over));

describe('toolDefinitions', () => {
  it('offers read_skill_file only when a skill is loaded', () => {
    expect(toolDefinitions(true).map((t) => t.name)).toEqual([
      'list_files',
      'read_file',
      'write_file',
      'edit_file',
      'run_command',
      'read_skill_file',
    ]);
    expect(toolDefinitions(false).map((t) => t.name)).not.toContain('read_skill_file');
  });

  it('describes each input as a closed JSON Schema object', () => {
    const edit = toolDefinitions(false).find((t) => t.name === 'edit_file');
    expect(edit?.input_schema).toMatchObject({
      type: 'object',
      required: ['path', 'old_text', 'new_text'],
      additionalProperties: false,
    });
    for (const t of toolDefinitions(true)) expect(t.input_schema).not.toHaveProperty('$schema');
  });
});

describe('file tools', () => {
  it('lists the project recursively, folders marked', async () => {
    expect(await call('list_files', {})).toEqual({
      isError: false,
      content: ['linked', 'notes.txt', 'src/', 'src/main.js'].join('\n'),
    });
    await mkdir(path.join(ws, 'empty'));
    expect((await call('list_files', { path: 'empty' })).content).toBe('(empty)');
  });

  it('reads, writes (creating folders) and reports missing files as tool errors', async () => {
    expect(await call('read_file', { path: 'notes.txt' })).toEqual({
      isError: false,
      content: 'alpha beta alpha\n',
    });
    expect(await call('write_file', { path: 'out/deep/a.txt', content: 'héllo' })).toEqual({
      isError: false,
      content: 'Wrote 6 bytes to out/deep/a.txt.',
    });
    expect(await readFile(path.join(ws, 'out/deep/a.txt'), 'utf8')).toBe('héllo');
    const missing = await call('read_file', { path: 'nope.txt' });
    expect(missing.isError).toBe(true);
    expect(missing.content).toMatch(/ENOENT/);
    const folder = await call('read_file', { path: 'src' });
    expect(folder).toEqual({ isError: true, content: 'That path is a folder.' });
  });

  const escapes: Array<[string, Record<string, unknown>]> = [
    ['list_files', { path: '..' }],
    ['list_files', { path: 'linked' }],
    ['read_file', { path: '../outside/secret.txt' }],
    ['read_file', { path: 'linked/secret.txt' }],
    ['read_file', { path: '/etc/hostname' }],
    ['write_file', { path: '../outside/new.txt', content: 'x' }],
    ['write_file', { path: 'linked/secret.txt', content: 'overwritten' }],
    ['write_file', { path: 'linked/new.txt', content: 'x' }],
    ['edit_file', { path: '../outside/secret.txt', old_text: 'OUTSIDE', new_text: 'x' }],
    ['edit_file', { path: 'linked/secret.txt', old_text: 'OUTSIDE', new_text: 'x' }],
  ];

  it.each(escapes)('%s refuses %j with an error result', async (name, input) => {
    const out = await call(name, input);
    expect(out.isError).toBe(true);
    expect(out.content).toMatch(/resolves outside /);
    expect(out.content).not.toContain('OUTSIDE-SECRET');
    expect(await readFile(path.join(outside, 'secret.txt'), 'utf8')).toBe('OUTSIDE-SECRET\n');
    await expect(readFile(path.join(outside, 'new.txt'))).rejects.toThrow(/ENOENT/);
  });

  it('edits only when old_text occurs exactly once', async () => {
    const twice = await call('edit_file', { path: 'notes.txt', old_text: 'alpha', new_text: 'x' });
    expect(twice).toEqual({
      isError: true,
      content: 'old_text occurs 2 times in notes.txt; it must occur exactly once.',
    });
    const never = await call('edit_file', { path: 'notes.txt', old_text: 'gamma', new_text: 'x' });
    expect(never.isError).toBe(true);
    expect(never.content).toMatch(/occurs 0 times/);
    expect(await readFile(path.join(ws, 'notes.txt'), 'utf8')).toBe('alpha beta alpha\n');

    // Replacement text is literal: `$&` is not a back-reference.
    const once = await call('edit_file', { path: 'notes.txt', old_text: 'beta', new_text: '$&!' });
    expect(once).toEqual({ isError: false, content: 'Edited notes.txt.' });
    expect(await readFile(path.join(ws, 'notes.txt'), 'utf8')).toBe('alpha $&! alpha\n');
  });

  it('caps what it reads and refuses oversized writes as errors', async () => {
    await writeFile(path.join(ws, 'big.txt'), 'x'.repeat(TOOL_LIMITS.maxReadBytes + 10));
    const read = await call('read_file', { path: 'big.txt' });
    expect(read.isError).toBe(false);
    expect(read.content).toBe(
      `${'x'.repeat(TOOL_LIMITS.maxReadBytes)}\n[truncated: file has ${TOOL_LIMITS.maxReadBytes + 10} bytes]`,
    );
    const write = await call('write_file', {
      path: 'huge.txt',
      content: 'y'.repeat(TOOL_LIMITS.maxWriteBytes + 1),
    });
    expect(write.isError).toBe(true);
    expect(write.content).toMatch(/larger than 1000000 bytes/);
    await expect(readFile(path.join(ws, 'huge.txt'))).rejects.toThrow(/ENOENT/);
  });
});

describe('read_skill_file', () => {
  it("reads the skill's own files", async () => {
    expect(await call('read_skill_file', { path: 'reference/notes.md' })).toEqual({
      isError: false,
      content: 'NOTES-MARKER-8813: the answer has two digits.\n',
    });
  });

  it('refuses paths outside the skill folder, symlinks included', async () => {
    const skillDir = path.join(root, 'skill');
    await mkdir(skillDir);
    await writeFile(path.join(skillDir, 'SKILL.md'), '---\nname: s\ndescription: d\n---\n');
    await symlink(path.join(outside, 'secret.txt'), path.join(skillDir, 'leak.md'));
    for (const p of ['../outside/secret.txt', 'leak.md', '../workspace/notes.txt']) {
      const out = await call('read_skill_file', { path: p }, { skillDir });
      expect(out.isError, p).toBe(true);
      expect(out.content).toMatch(/resolves outside /);
    }
  });

  it('does not exist for a baseline trial', async () => {
    expect(await call('read_skill_file', { path: 'SKILL.md' }, { skillDir: null })).toEqual({
      isError: true,
      content: "Unknown tool 'read_skill_file'.",
    });
  });
});

describe('malformed calls', () => {
  it.each([
    ['summon_dragon', {}, "Unknown tool 'summon_dragon'."],
    ['read_file', {}, /^Invalid input for read_file: path: /],
    ['read_file', { path: 'notes.txt', extra: 1 }, /^Invalid input for read_file: .*extra/],
    ['write_file', { path: 'a.txt', content: 42 }, /^Invalid input for write_file: content: /],
    ['run_command', 'ls', /^Invalid input for run_command: \(input\): /],
  ])('%s %j is an error result', async (name, input, message) => {
    const out = await call(name, input);
    expect(out.isError).toBe(true);
    expect(out.content).toMatch(message);
  });
});

describe('run_command', () => {
  it('runs in the sandbox with the workspace as cwd', async () => {
    const out = await call('run_command', { command: 'pwd; cat notes.txt; echo err >&2; exit 4' });
    expect(out.isError).toBe(false);
    expect(out.content).toBe(`[exit code 4]\nstdout:\n${ws}\nalpha beta alpha\n\nstderr:\nerr\n`);
  });

  it('caps its output', async () => {
    const out = await call('run_command', { command: 'head -c 100000 /dev/zero | tr "\\0" a' });
    expect(out.content).toMatch(/^\[exit code 0, output truncated\]\nstdout:\na+/);
    expect(out.content.length).toBeLessThan(TOOL_LIMITS.commandOutputBytes + 500);
  });

  it("never outlives the trial's remaining time", async () => {
    const out = await call('run_command', { command: 'sleep 30' }, { remainingMs: () => 1_500 });
    expect(out).toEqual({ isError: false, content: '[timed out after 1500 ms]' });
  });
});

describe('folderBytes', () => {
  it('adds up file sizes without following symlinks', async () => {
    // notes.txt 17 + src/main.js 16 + the link itself (its target path's length).
    expect(await folderBytes(ws)).toBe(17 + 16 + outside.length);
  });
});
