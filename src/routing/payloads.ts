import { z } from 'zod';

/**
 * The parts of each webhook payload the router reads, as zod schemas: what a `labeled` pull
 * request, an issue comment, a review and a workflow dispatch must carry. Loose objects, so the
 * rest of GitHub's payload passes through unread; the decisions over them are in route.ts.
 */

export const eventAction = z.looseObject({ action: z.string() });
const sender = z.looseObject({ login: z.string().min(1), type: z.string() });
const repository = z.looseObject({
  name: z.string().min(1),
  full_name: z.string().min(1),
  default_branch: z.string().min(1),
  owner: z.looseObject({ login: z.string().min(1) }),
});
const positive = z.int().min(1);

export const labeledPayload = z.looseObject({
  action: z.literal('labeled'),
  label: z.looseObject({ name: z.string() }),
  pull_request: z.looseObject({
    number: positive,
    state: z.string(),
    head: z.looseObject({ ref: z.string(), sha: z.string().regex(/^[0-9a-f]{40,64}$/) }),
  }),
  repository,
  sender,
});

export const commentPayload = z.looseObject({
  action: z.string(),
  issue: z.looseObject({
    number: positive,
    state: z.string().optional(),
    pull_request: z.looseObject({}).nullish(),
  }),
  comment: z.looseObject({ id: positive, body: z.string().nullable() }),
  repository,
  sender,
});

export const reviewPayload = z.looseObject({
  action: z.string(),
  review: z.looseObject({
    id: positive,
    state: z.string(),
    commit_id: z.string().regex(/^[0-9a-f]{40,64}$/),
    body: z.string().nullable(),
  }),
  pull_request: z.looseObject({
    number: positive,
    body: z.string().nullable(),
    head: z.looseObject({
      ref: z.string(),
      repo: z.looseObject({ full_name: z.string() }).nullable(),
    }),
  }),
  repository,
  sender,
});

const digits = z.string().regex(/^[1-9]\d{0,9}$/);
export const dispatchPayload = z.looseObject({
  inputs: z.looseObject({
    pr: digits,
    command: z.string().max(20_000).optional(),
    skill: z.string().max(500).optional(),
    comment_id: z.union([digits, z.literal('')]).optional(),
    review_id: z.union([digits, z.literal('')]).optional(),
    actor: z.string().max(100).optional(),
    head_sha: z.union([z.string().regex(/^[0-9a-f]{40,64}$/), z.literal('')]).optional(),
  }),
  repository,
  sender: sender.optional(),
});

export type Repository = z.infer<typeof repository>;
export type Sender = z.infer<typeof sender>;
