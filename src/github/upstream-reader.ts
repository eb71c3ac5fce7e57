import { posix } from 'node:path';
import type { UpstreamInfo, UpstreamReader } from '../chain/ports.js';
import type { GitHubClient } from './client.js';
import { hasStatus } from './errors.js';
import { readBlob } from './git-trees.js';

/**
 * Step 2's read-only view of an upstream repository on GitHub (the GitHub counterpart of
 * chain/upstream-local.ts): license, contributing guide, recent closed pull requests (merged or
 * not), default branch, SKILL.md frontmatter examples, and whether the skill is there already.
 * About ten requests: the repository, its license, one recursive tree of the default branch, the
 * closed pull requests, the contributing guide and up to five SKILL.md blobs.
 */

/** Which repository to read, and where the skill is expected in it. */
export interface UpstreamTarget {
  owner: string;
  repo: string;
  /** Repository-relative folder of the skill; null when only the repository is known. */
  path: string | null;
}

export interface GitHubUpstreamOptions {
  client: GitHubClient;
  /** Maps the step's source (the skill's path in the run's repository) to what to read. */
  locate: (source: string) => UpstreamTarget | Promise<UpstreamTarget>;
}

const MAX_EXAMPLES = 5;
const MAX_CHANGES = 20;
const MAX_BODY_CHARS = 1500;
const MAX_DOC_CHARS = 20_000;
const CONTRIBUTING = /^(?:\.github\/|docs\/)?contributing(?:\.(?:md|markdown|txt|rst))?$/i;
const FRONTMATTER = /^---[ \t]*\r?\n[\s\S]*?\r?\n---[ \t]*(?:\r?\n|$)/;

const cut = (text: string, max: number) =>
  text.length > max ? `${text.slice(0, max)}\n[truncated]` : text;

function readInfo(target: UpstreamTarget, what: string) {
  return {
    action: `read ${what} of the upstream repository`,
    owner: target.owner,
    repo: target.repo,
    permission: 'contents: read',
  };
}

/**
 * `owner/repo` and the folder of a github.com URL (`https://github.com/o/r`, `…/tree/<ref>/<path>`,
 * `…/blob/<ref>/<path>/SKILL.md`); null for anything else. A ref holding `/` cannot be told from
 * the path, so the first segment after `tree`/`blob` is taken as the ref.
 */
export function githubSource(url: string): UpstreamTarget | null {
  const match =
    /^https:\/\/github\.com\/([A-Za-z0-9-]{1,39})\/([\w.-]{1,100}?)(?:\.git)?(?:\/(?:tree|blob)\/[^/\s]+((?:\/[^/\s?#]+)*))?\/?$/.exec(
      url.trim(),
    );
  if (match === null) return null;
  const [, owner = '', repo = '', rest = ''] = match;
  const folder = rest.replace(/^\//, '').replace(/\/?SKILL\.md$/i, '');
  const path = folder === '' ? null : posix.normalize(folder);
  if (path !== null && (path.startsWith('..') || path.startsWith('/'))) return null;
  return { owner, repo, path };
}

export function createGitHubUpstreamReader(opts: GitHubUpstreamOptions): UpstreamReader {
  const { client } = opts;
  return {
    async read(source) {
      const target = await opts.locate(source);
      const repo = await client.call(readInfo(target, 'the settings'), (octokit) =>
        octokit.request('GET /repos/{owner}/{repo}', { owner: target.owner, repo: target.repo }),
      );
      const defaultBranch = repo.data.default_branch;
      const paths = await treePaths(client, target, defaultBranch);
      const blobAt = async (path: string) => {
        const sha = paths.get(path);
        if (sha === undefined) return null;
        const bytes = await readBlob(client, { owner: target.owner, repo: target.repo, sha });
        return cut(bytes.toString('utf8'), MAX_DOC_CHARS);
      };
      const contributing = [...paths.keys()].filter((p) => CONTRIBUTING.test(p)).sort(byDepth)[0];
      const examples: string[] = [];
      for (const path of [...paths.keys()].filter(isSkillFile).sort(byDepth)) {
        if (examples.length >= MAX_EXAMPLES) break;
        const fm = FRONTMATTER.exec((await blobAt(path)) ?? '');
        if (fm) examples.push(`# ${path}\n${fm[0].trim()}`);
      }
      return {
        repo: `${target.owner}/${target.repo}`,
        defaultBranch,
        license: await license(client, target),
        contributing: contributing === undefined ? null : await blobAt(contributing),
        recentChanges: await closedPulls(client, target),
        skillFrontmatterExamples: examples,
        skillPath: skillFolder(paths, target.path),
      };
    },
  };
}

const isSkillFile = (path: string) => path === 'SKILL.md' || path.endsWith('/SKILL.md');
const byDepth = (a: string, b: string) =>
  a.split('/').length - b.split('/').length || a.localeCompare(b);

/** Blob paths → shas of the default branch (a truncated listing is used as far as it goes). */
async function treePaths(
  client: GitHubClient,
  target: UpstreamTarget,
  branch: string,
): Promise<Map<string, string>> {
  const { data } = await client.call(readInfo(target, `the files on ${branch}`), (octokit) =>
    octokit.request('GET /repos/{owner}/{repo}/git/trees/{tree_sha}', {
      owner: target.owner,
      repo: target.repo,
      tree_sha: branch,
      recursive: '1',
    }),
  );
  const paths = new Map<string, string>();
  for (const entry of data.tree) {
    // A symlink (mode 120000) is a blob holding its target's path: never read it as a file.
    if (
      entry.type === 'blob' &&
      entry.mode !== '120000' &&
      entry.path !== undefined &&
      entry.sha !== undefined
    ) {
      paths.set(entry.path, entry.sha);
    }
  }
  return paths;
}

/**
 * Where the skill is upstream: the expected folder when it holds SKILL.md, else the one folder of
 * the same name that does (a repository may lay skills out differently); null when not found.
 */
function skillFolder(paths: Map<string, string>, expected: string | null): string | null {
  if (expected === null) return null;
  const folder = expected === '.' ? '' : expected.replace(/\/+$/, '');
  if (paths.has(folder === '' ? 'SKILL.md' : `${folder}/SKILL.md`)) return folder || '.';
  if (folder === '') return null;
  const name = posix.basename(folder);
  const same = [...paths.keys()]
    .filter((p) => p.endsWith(`/${name}/SKILL.md`) || p === `${name}/SKILL.md`)
    .map((p) => p.slice(0, -'/SKILL.md'.length));
  return same.length === 1 ? (same[0] ?? null) : null;
}

/** `SPDX: <id>` and the license text; null when GitHub finds no license (404). */
async function license(client: GitHubClient, target: UpstreamTarget): Promise<string | null> {
  return client.call(readInfo(target, 'the license'), async (octokit) => {
    try {
      const { data } = await octokit.request('GET /repos/{owner}/{repo}/license', {
        owner: target.owner,
        repo: target.repo,
      });
      const text =
        data.encoding === 'base64' ? Buffer.from(data.content, 'base64').toString('utf8') : '';
      const spdx = data.license?.spdx_id ?? 'NOASSERTION';
      return cut(`SPDX: ${spdx}\n\n${text.trim()}`, MAX_DOC_CHARS);
    } catch (error) {
      if (hasStatus(error, 404)) return null;
      throw error;
    }
  });
}

/** The most recent closed pull requests: merged ones, and ones closed without merging. */
async function closedPulls(
  client: GitHubClient,
  target: UpstreamTarget,
): Promise<UpstreamInfo['recentChanges']> {
  const { data } = await client.call(
    {
      ...readInfo(target, 'the recent pull requests'),
      permission: 'pull-requests: read',
    },
    (octokit) =>
      octokit.request('GET /repos/{owner}/{repo}/pulls', {
        owner: target.owner,
        repo: target.repo,
        state: 'closed',
        per_page: MAX_CHANGES,
      }),
  );
  return data.map((pull) => ({
    title: pull.title,
    state: pull.merged_at ? ('merged' as const) : ('closed' as const),
    body: cut((pull.body ?? '').trim(), MAX_BODY_CHARS),
  }));
}
