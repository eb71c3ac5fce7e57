import { createRequire } from 'node:module';

/**
 * Real webhook payloads from @octokit/webhooks-examples, deep-cloned so a test can set the fields
 * it needs (label name, comment body, sender) without touching the shared copy.
 */

interface Definition {
  name: string;
  examples: Array<Record<string, unknown>>;
}

const definitions = createRequire(import.meta.url)('@octokit/webhooks-examples') as Definition[];

// biome-ignore lint/suspicious/noExplicitAny: payloads are edited freely in tests.
export type Payload = Record<string, any>;

export function example(name: string, action?: string): Payload {
  const definition = definitions.find((d) => d.name === name);
  const found = definition?.examples.find((e) => action === undefined || e.action === action);
  if (found === undefined)
    throw new Error(`no ${name}.${action ?? ''} example in @octokit/webhooks-examples`);
  return structuredClone(found) as Payload;
}

export const SELF = 'skill-optimizer[bot]';
export const HEAD_SHA = 'ec26c3e57ca3a959ca5aad62de7213c562f8c821';

export function user(login: string, type: 'User' | 'Bot' = 'User'): Payload {
  return { login, id: 1, node_id: 'U_1', type, site_admin: false };
}

/** A `pull_request.labeled` event on open skill PR #2 of Codertocat/Hello-World. */
export function labeled(label: string, sender = user('octocat')): Payload {
  const payload = example('pull_request', 'labeled');
  payload.label.name = label;
  payload.pull_request.state = 'open';
  payload.sender = sender;
  return payload;
}

/** An `issue_comment` event on PR #1 (the example's issue, made into a PR). */
export function comment(
  body: string,
  opts: { action?: string; sender?: Payload; id?: number } = {},
): Payload {
  const payload = example('issue_comment', opts.action ?? 'created');
  payload.issue.pull_request = {
    url: 'https://api.github.com/repos/Codertocat/Hello-World/pulls/1',
    html_url: 'https://github.com/Codertocat/Hello-World/pull/1',
    diff_url: 'https://github.com/Codertocat/Hello-World/pull/1.diff',
    patch_url: 'https://github.com/Codertocat/Hello-World/pull/1.patch',
  };
  payload.comment.body = body;
  payload.comment.id = opts.id ?? payload.comment.id;
  payload.sender = opts.sender ?? user('octocat');
  payload.comment.user = payload.sender;
  return payload;
}

/** A `pull_request_review.submitted` event on chain PR #2 (branch skill-optimizer/7-pdf). */
export function review(
  state: string,
  opts: { sender?: Payload; body?: string | null; prBody?: string | null } = {},
): Payload {
  const payload = example('pull_request_review', 'submitted');
  payload.review.state = state;
  payload.review.commit_id = HEAD_SHA;
  payload.review.body = opts.body ?? null;
  payload.pull_request.head.ref = 'skill-optimizer/7-pdf';
  payload.pull_request.body = opts.prBody ?? null;
  payload.sender = opts.sender ?? user('octocat');
  payload.review.user = payload.sender;
  return payload;
}

export function dispatched(inputs: Record<string, string>): Payload {
  const payload = example('workflow_dispatch');
  payload.inputs = inputs;
  return payload;
}
