import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import nock from 'nock';
import { createNodeMiddleware, type Probot } from 'probot';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { skillOptimizerApp } from '../../src/app/register.js';
import { WebhookSecretError } from '../../src/app/webhook-secret.js';
import { comment, SELF, user } from '../routing/webhook-examples.js';
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

async function serve(
  env: Record<string, string> = { WEBHOOK_SECRET: SECRET },
  probot: Probot = testProbot(SECRET),
): Promise<{ url: string; seen: string[] }> {
  const seen: string[] = [];
  const app = (instance: Probot): void => {
    skillOptimizerApp({ env, selfLogin: SELF })(instance);
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

  it('a forged autopilot "from a maintainer" is refused: 4xx, nothing asked of GitHub', async () => {
    const { url, seen } = await serve();
    const body = JSON.stringify(comment('/optimize autopilot', { sender: user('octocat') }));
    // Signed with probot's public default secret, as a forger would.
    const response = await post(url, body, sign('development', body), 'forged-1');
    expect([400, 401]).toContain(response.status);
    expect(seen).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]); // no dispatch was even prepared: none may happen
  });
});

describe('the webhook secret', () => {
  it.each([
    ['unset', {}],
    ['empty', { WEBHOOK_SECRET: '' }],
    ["probot's public default", { WEBHOOK_SECRET: 'development' }],
    ['unset, with the dev flag not exactly 1', { SKILL_OPTIMIZER_INSECURE_DEV: 'true' }],
  ])('%s: the App refuses to start, saying how to fix it', async (_what, env) => {
    const probot = testProbot();
    const loading = probot.load(skillOptimizerApp({ env, selfLogin: SELF }));
    await expect(loading).rejects.toThrow(WebhookSecretError);
    await expect(loading).rejects.toThrow(/will not start: WEBHOOK_SECRET .*Set WEBHOOK_SECRET/);
  });

  it('without a secret no server serves, so a forged delivery reaches nothing', async () => {
    // The forger's delivery would verify against probot's default secret; the App never loads.
    await expect(serve({}, testProbot())).rejects.toThrow(WebhookSecretError);
  });

  it('SKILL_OPTIMIZER_INSECURE_DEV=1 starts without one and says loudly that it is insecure', async () => {
    const warnings: unknown[] = [];
    await testProbot().load((instance: Probot) => {
      vi.spyOn(instance.log, 'warn').mockImplementation((message: unknown) => {
        warnings.push(message);
      });
      skillOptimizerApp({ env: { SKILL_OPTIMIZER_INSECURE_DEV: '1' }, selfLogin: SELF })(instance);
    });
    expect(warnings).toEqual([expect.stringMatching(/^INSECURE: WEBHOOK_SECRET is not set/)]);
  });
});
