import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  applyPicks,
  PickSelectionError,
  parsePickSelection,
  readSpecs,
  topPicks,
} from '../../src/chain/picks.js';
import { InvalidFileError } from '../../src/errors.js';
import type { LocalRunStore } from '../../src/store/local.js';
import { useGitSandbox } from '../store/git-fixture.js';
import { seedStore, specYaml } from './test-steps-fixture.js';

const sandbox = useGitSandbox();
const stores: LocalRunStore[] = [];
afterAll(async () => {
  for (const s of stores) await s.close();
});

async function storeWith(files: Record<string, string>): Promise<LocalRunStore> {
  const store = await seedStore(sandbox.base, files);
  stores.push(store);
  return store;
}

describe('parsePickSelection', () => {
  it('reads all, top N and id lists', () => {
    expect(parsePickSelection('all')).toEqual({ all: true });
    expect(parsePickSelection(' ALL ')).toEqual({ all: true });
    expect(parsePickSelection('top 3')).toEqual({ top: 3 });
    expect(parsePickSelection('top2')).toEqual({ top: 2 });
    expect(parsePickSelection('add-entry,release')).toEqual({ ids: ['add-entry', 'release'] });
    expect(parsePickSelection('add-entry, release  add-entry')).toEqual({
      ids: ['add-entry', 'release'],
    });
  });

  it.each([
    ['', /nothing to pick/],
    ['top', /top needs a positive whole number/],
    ['top 0', /top needs a positive whole number/],
    ['top three', /top needs a positive whole number/],
    ['add_entry', /not a functionality id: 'add_entry'/],
    ['ok, ../x', /not a functionality id: '..\/x'/],
  ])('refuses %j', (text, message) => {
    expect(() => parsePickSelection(text)).toThrow(PickSelectionError);
    expect(() => parsePickSelection(text)).toThrow(message);
  });

  it('parses any list of kebab ids back to the same ids, once each', () => {
    const id = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,20}$/).filter((s) => !/^top/.test(s));
    fc.assert(
      fc.property(
        fc.array(id, { minLength: 1, maxLength: 6 }),
        fc.constantFrom(',', ', ', ' '),
        (ids, sep) => {
          fc.pre(!(ids.length === 1 && ids[0] === 'all'));
          expect(parsePickSelection(ids.join(sep))).toEqual({ ids: [...new Set(ids)] });
        },
      ),
    );
  });
});

describe('topPicks', () => {
  it('orders by priority, then id', () => {
    const specs = [
      { functionality: 'c', priority: 2 },
      { functionality: 'b', priority: 1 },
      { functionality: 'a', priority: 2 },
      { functionality: 'd', priority: 3 },
    ];
    expect(topPicks(specs, 3)).toEqual(['b', 'a', 'c']);
    expect(topPicks(specs, 10)).toEqual(['b', 'a', 'c', 'd']);
    expect(topPicks(specs, 0)).toEqual([]);
  });
});

describe('applyPicks', () => {
  let store: LocalRunStore;
  const before = {
    a: specYaml({
      functionality: 'a',
      picked: false,
      priority: 2,
      probes: [{ id: 'p' }],
      comment: 'human note on a',
    }),
    b: specYaml({ functionality: 'b', picked: true, priority: 3, probes: [{ id: 'p' }] }),
    c: specYaml({ functionality: 'c', picked: false, priority: 1, probes: [{ id: 'p' }] }),
  };
  beforeAll(async () => {
    store = await storeWith({
      'tests/a/spec.yaml': before.a,
      'tests/b/spec.yaml': before.b,
      'tests/c/spec.yaml': before.c,
    });
  });

  it('sets picked: true on the named specs only, keeping comments and every other line', async () => {
    const out = await applyPicks(store, { ids: ['a'] });
    expect(out.added).toEqual(['a']);
    expect(out.picked).toEqual(['a', 'b']);
    expect(out.changes).toHaveLength(1);
    const change = out.changes[0] as { path: string; content: string };
    expect(change.path).toBe('tests/a/spec.yaml');
    expect(change.content).toBe(before.a.replace('picked: false', 'picked: true'));
  });

  it('never un-picks: top 1 adds the highest priority and leaves the human pick of b', async () => {
    const out = await applyPicks(store, { top: 1 });
    expect(out.added).toEqual(['c']);
    expect(out.picked).toEqual(['c', 'b']);
    expect(out.changes.map((c) => c.path)).toEqual(['tests/c/spec.yaml']);
  });

  it('all picks every unpicked spec; an already picked one is not rewritten', async () => {
    const out = await applyPicks(store, { all: true });
    expect(out.added.sort()).toEqual(['a', 'c']);
    expect(out.changes.map((c) => c.path).sort()).toEqual([
      'tests/a/spec.yaml',
      'tests/c/spec.yaml',
    ]);
  });

  it('names unknown ids and lists the proposals', async () => {
    await expect(applyPicks(store, { ids: ['a', 'zzz'] })).rejects.toThrow(
      "unknown functionality 'zzz'; the proposals are: a, b, c",
    );
  });

  it('refuses when there is nothing to pick yet', async () => {
    const empty = await storeWith({});
    await expect(applyPicks(empty, { all: true })).rejects.toThrow(/run step design-tests first/);
  });
});

describe('readSpecs', () => {
  it('validates each spec.yaml, naming the file and the field', async () => {
    const store = await storeWith({
      'tests/a/spec.yaml': specYaml({
        functionality: 'a',
        picked: false,
        priority: 1,
        probes: [{ id: 'p' }],
      }).replace('priority: 1', 'priority: high'),
    });
    const error = await readSpecs(store).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidFileError);
    expect((error as Error).message).toMatch(/tests\/a\/spec\.yaml: priority: .*\(line 3\)/);
  });

  it('refuses a spec whose functionality does not match its folder, or a probe listed twice', async () => {
    const moved = await storeWith({
      'tests/b/spec.yaml': specYaml({
        functionality: 'a',
        picked: false,
        priority: 1,
        probes: [{ id: 'p' }],
      }),
    });
    await expect(readSpecs(moved)).rejects.toThrow(
      /tests\/b\/spec\.yaml: functionality: 'a' must match its folder name 'b'/,
    );
    const twice = await storeWith({
      'tests/a/spec.yaml': specYaml({
        functionality: 'a',
        picked: false,
        priority: 1,
        probes: [{ id: 'p' }, { id: 'p' }],
      }),
    });
    await expect(readSpecs(twice)).rejects.toThrow(/probes\[1\]\.id: 'p' is listed twice/);
  });

  it('reads only tests/<f>/spec.yaml, sorted by functionality', async () => {
    const store = await storeWith({
      'tests/z/spec.yaml': specYaml({
        functionality: 'z',
        picked: true,
        priority: 1,
        probes: [{ id: 'p' }],
      }),
      'tests/m/spec.yaml': specYaml({
        functionality: 'm',
        picked: false,
        priority: 2,
        probes: [{ id: 'p' }],
      }),
      'tests/m/p/spec.yaml': 'not: a spec\n',
      'tests/suite.yml': 'probes: []\n',
    });
    expect((await readSpecs(store)).map((s) => s.functionality)).toEqual(['m', 'z']);
  });
});
