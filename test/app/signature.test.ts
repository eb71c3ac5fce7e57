import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createNodeMiddleware, type Probot } from 'probot';
import { afterEach, describe, expect, it } from 'vitest';
import { skillOptimizerApp } from '../../src/app/register.js';
import { comment, SELF } from '../routing/webhook-examples.js';
import { testProbot } from './probot-app.js';

// GitHub's published test vector for X-Hub-Signature-256.
const SECRET = "It's a Secret to Everybody";
const VECTOR = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';

function sign(secret: string, payload: string): string {
  return `sha256=${createHmac('sha256', secret).update(payload).digest('hex')}`;
}

let server: Server | null = null;

afterEach(async () => {
  const running = server;
  server = null;
  if (running) await new Promise((done) => running.close(done));
});

async function serve(): Promise<{ url: string; seen: string[] }> {
  const seen: string[] = [];
  const probot: Probot = testProbot(SECRET);
  const app = (instance: Probot): void => {
    skillOptimizerApp({ selfLogin: SELF })(instance);
    instance.onAny(async (context) => {
      seen.push(context.id);
    });
  };
  const middleware = await createNodeMiddleware(app, { probot });
  const started = createServer((req, res) => {
    void middleware(req, res, () => {
      res.writeHead(404).end();
    });
  });
  server = started;
  await new Promise<void>((done) => started.listen(0, '127.0.0.1', done));
  const { port } = started.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/api/github/webhooks`, seen };
}

function post(url: string, body: string, signature: string, delivery: string): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-github-event': 'issue_comment',
      'x-github-delivery': delivery,
      'x-hub-signature-256': signature,
    },
    body,
  });
}

describe('webhook signatures', () => {
  it('the signing used here matches GitHub’s published test vector', () => {
    expect(sign(SECRET, 'Hello, World!')).toBe(VECTOR);
  });

  it('a correctly signed delivery reaches the handlers', async () => {
    const { url, seen } = await serve();
    const body = JSON.stringify(comment('thanks, no command here'));
    const response = await post(url, body, sign(SECRET, body), 'good-1');
    expect(response.status).toBe(200);
    expect(seen).toEqual(['good-1']);
  });

  it.each([
    ['a wrong secret', (body: string) => sign('not the secret', body)],
    ['the vector of another payload', () => VECTOR],
    ['a malformed signature', () => 'sha256=zz'],
    ['a missing algorithm', (body: string) => sign(SECRET, body).slice('sha256='.length)],
  ])('%s is refused and no handler runs', async (_what, signature) => {
    const { url, seen } = await serve();
    const body = JSON.stringify(comment('/optimize stop'));
    const response = await post(url, body, signature(body), 'bad-1');
    expect([400, 401]).toContain(response.status);
    expect(seen).toEqual([]);
  });
});
