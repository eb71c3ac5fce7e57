import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidFileError } from '../../../src/errors.js';
import { loadScript, parseScript } from '../../../src/model/scripted/script.js';

const FIXTURES = 'test/fixtures/scripts';

async function loadError(file: string): Promise<InvalidFileError> {
  const error = await loadScript(file).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(InvalidFileError);
  return error as InvalidFileError;
}

function parseError(yaml: string): string {
  try {
    parseScript(yaml, 'inline.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidFileError);
    return (error as Error).message;
  }
  throw new Error('expected the script to be rejected');
}

describe('script loading and validation', () => {
  it('loads every valid fixture, YAML and JSON', async () => {
    for (const name of ['basic.yaml', 'faults.json', 'claude-code-write.yaml']) {
      const script = await loadScript(join(FIXTURES, name));
      expect(script.rules.length).toBeGreaterThan(0);
    }
    const faults = await loadScript(join(FIXTURES, 'faults.json'));
    expect(faults.rules[0]).toMatchObject({ fault: 429, times: 2, retry_after_ms: 5 });
  });

  it('names the file, the field path and the line of an unknown key', async () => {
    const file = join(FIXTURES, 'invalid-unknown-key.yaml');
    const error = await loadError(file);
    expect(error.file).toBe(file);
    expect(error.message).toBe(`${file}: rules[1].when.last_user_contain: unknown key (line 10)`);
  });

  it('names the missing field of a tool_use block', async () => {
    const error = await loadError(join(FIXTURES, 'invalid-tool-use.yaml'));
    expect(error.message).toMatch(
      /invalid-tool-use\.yaml: rules\[0\]\.reply\.content\[0\]\.name: /,
    );
  });

  it('reports unreadable files and broken YAML with the file name', async () => {
    const missing = await loadError('test/fixtures/scripts/does-not-exist.yaml');
    expect(missing.message).toMatch(/does-not-exist\.yaml: cannot read script/);
    const dir = await mkdtemp(join(tmpdir(), 'script-'));
    const broken = join(dir, 'broken.yaml');
    await writeFile(broken, 'rules:\n  - reply: [unclosed\n');
    expect((await loadError(broken)).message).toMatch(/broken\.yaml: invalid YAML at line \d/);
  });

  it('rejects rules without exactly one of reply/fault, bad faults and bad regexes', () => {
    expect(parseError('rules: [{ name: empty }]')).toContain('exactly one of `reply` or `fault`');
    expect(
      parseError('rules: [{ fault: 500, reply: { content: [{ type: text, text: x }] } }]'),
    ).toContain('exactly one of');
    expect(parseError('rules: [{ fault: 418 }]')).toMatch(/rules\[0\]\.fault/);
    expect(
      parseError(
        'rules: [{ when: { model: "/(/" }, reply: { content: [{ type: text, text: x }] } }]',
      ),
    ).toMatch(/rules\[0\]\.when\.model: invalid regular expression/);
    expect(parseError('rules: []')).toMatch(/^inline\.yaml: rules: /);
  });

  it('rejects placeholders that no named group provides, and duplicate rule names', () => {
    const placeholder = parseError(`
rules:
  - when: { matches: 'dir: (?<dir>\\S+)' }
    reply: { content: [{ type: text, text: '{{dir}} and {{file}}' }] }
`);
    expect(placeholder).toContain('rules[0].reply: placeholder {{file}} is not a named group');
    expect(placeholder).not.toContain('{{dir}}');
    const duplicate = parseError(`
rules:
  - { name: a, reply: { content: [{ type: text, text: x }] } }
  - { name: a, reply: { content: [{ type: text, text: y }] } }
`);
    expect(duplicate).toContain('rules[1].name: duplicate rule name');
  });

  it('rejects every: n > of and non-positive nth', () => {
    const reply = 'reply: { content: [{ type: text, text: x }] }';
    expect(parseError(`rules: [{ when: { every: { n: 3, of: 2 } }, ${reply} }]`)).toContain(
      'rules[0].when.every',
    );
    expect(parseError(`rules: [{ when: { nth: [0] }, ${reply} }]`)).toContain(
      'rules[0].when.nth[0]',
    );
  });
});
