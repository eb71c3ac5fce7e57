import type { GitHubClient } from './client.js';

type CheckStatus = 'queued' | 'in_progress' | 'completed';
type CheckConclusion =
  | 'success'
  | 'failure'
  | 'neutral'
  | 'cancelled'
  | 'skipped'
  | 'timed_out'
  | 'action_required';

export interface CheckRunOutput {
  title: string;
  summary: string;
  text?: string;
}

interface CheckRunFields {
  status?: CheckStatus;
  conclusion?: CheckConclusion;
  output?: CheckRunOutput;
  detailsUrl?: string;
}

/** GitHub refuses output fields over 65535 characters; longer text is cut with a note. */
const OUTPUT_LIMIT = 65_535;

function capOutput(text: string): string {
  if (text.length <= OUTPUT_LIMIT) return text;
  const note = '\n\n… (cut: GitHub keeps at most 65535 characters here)';
  return `${text.slice(0, OUTPUT_LIMIT - note.length)}${note}`;
}

function fields(args: CheckRunFields) {
  const { output } = args;
  return {
    ...(args.status === undefined ? {} : { status: args.status }),
    ...(args.conclusion === undefined ? {} : { conclusion: args.conclusion }),
    ...(args.detailsUrl === undefined ? {} : { details_url: args.detailsUrl }),
    ...(output === undefined
      ? {}
      : {
          output: {
            title: output.title,
            summary: capOutput(output.summary),
            ...(output.text === undefined ? {} : { text: capOutput(output.text) }),
          },
        }),
  };
}

/** A check run named `name` on `headSha` (e.g. the skill PR's head commit). */
export async function createCheckRun(
  client: GitHubClient,
  args: { owner: string; repo: string; name: string; headSha: string } & CheckRunFields,
): Promise<{ id: number }> {
  const info = {
    action: `create the check run '${args.name}'`,
    owner: args.owner,
    repo: args.repo,
    permission: 'checks: write',
  };
  const { data } = await client.call(info, (octokit) =>
    octokit.request('POST /repos/{owner}/{repo}/check-runs', {
      owner: args.owner,
      repo: args.repo,
      name: args.name,
      head_sha: args.headSha,
      ...fields(args),
    }),
  );
  return { id: Number(data.id) };
}

/** Updates a check run; `name` renames it (a check run reused across jobs is named again). */
export async function updateCheckRun(
  client: GitHubClient,
  args: { owner: string; repo: string; checkRunId: number; name?: string } & CheckRunFields,
): Promise<{ id: number }> {
  const info = {
    action: `update check run ${args.checkRunId}`,
    owner: args.owner,
    repo: args.repo,
    permission: 'checks: write',
  };
  const { data } = await client.call(info, (octokit) =>
    octokit.request('PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}', {
      owner: args.owner,
      repo: args.repo,
      check_run_id: args.checkRunId,
      ...(args.name === undefined ? {} : { name: args.name }),
      ...fields(args),
    }),
  );
  return { id: Number(data.id) };
}
