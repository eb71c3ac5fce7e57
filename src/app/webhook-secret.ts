import { SkillOptimizerError } from '../errors.js';

/**
 * Whether the App may start: probot verifies every delivery's signature with WEBHOOK_SECRET, but
 * when that is unset it falls back to a public default (`development`), so anyone who can reach
 * the webhook URL could forge a `/optimize` "from a maintainer". The App therefore refuses to
 * start without a real secret, unless SKILL_OPTIMIZER_INSECURE_DEV=1 asks for a local
 * development mode, which is announced as insecure.
 */

export const INSECURE_DEV_FLAG = 'SKILL_OPTIMIZER_INSECURE_DEV';

/** Probot's built-in secret when none is given: public, so it proves nothing. */
const PROBOT_DEFAULT_SECRET = 'development';

export class WebhookSecretError extends SkillOptimizerError {}

export type SecretMode = { kind: 'verified' } | { kind: 'insecure-dev'; warning: string };

export function checkWebhookSecret(env: Readonly<Record<string, string | undefined>>): SecretMode {
  const secret = env.WEBHOOK_SECRET ?? '';
  if (secret !== '' && secret !== PROBOT_DEFAULT_SECRET) return { kind: 'verified' };
  const problem =
    secret === ''
      ? 'WEBHOOK_SECRET is not set'
      : `WEBHOOK_SECRET is probot's public default '${PROBOT_DEFAULT_SECRET}'`;
  if (env[INSECURE_DEV_FLAG] === '1') {
    return {
      kind: 'insecure-dev',
      warning: `INSECURE: ${problem} and ${INSECURE_DEV_FLAG}=1, so webhook signatures prove nothing and anyone who can reach this App can forge a command from a maintainer. Use this only for local development, never on a reachable host.`,
    };
  }
  throw new WebhookSecretError(
    `Skill Optimizer will not start: ${problem}, so forged webhooks would be accepted. Set WEBHOOK_SECRET to the App's webhook secret (GitHub App settings → Webhook secret), or set ${INSECURE_DEV_FLAG}=1 for local development only.`,
  );
}
