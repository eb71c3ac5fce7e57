import Anthropic, {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
} from '@anthropic-ai/sdk';
import { redactSecrets } from '../text/redact.js';

/** How long the preflight waits for the API before saying it cannot be reached. */
export const KEY_CHECK_TIMEOUT_MS = 20_000;

/**
 * One free call that proves the key is accepted and the API reachable before anything is
 * committed: counting the tokens of a one-word message (no output, nothing billed). The scripted
 * server answers it like the real API.
 */
export async function checkModelKey(opts: {
  apiKey: string;
  baseURL: string;
  model: string;
  timeoutMs?: number;
  fetch?: typeof fetch;
}): Promise<{ ok: true } | { ok: false; message: string }> {
  const host = new URL(opts.baseURL).host;
  const timeoutMs = opts.timeoutMs ?? KEY_CHECK_TIMEOUT_MS;
  const sdk = new Anthropic({
    apiKey: opts.apiKey,
    baseURL: opts.baseURL,
    maxRetries: 1,
    timeout: timeoutMs,
    logLevel: 'off',
    ...(opts.fetch ? { fetch: opts.fetch } : {}),
  });
  try {
    await sdk.messages.countTokens({
      model: opts.model,
      messages: [{ role: 'user', content: 'ping' }],
    });
    return { ok: true };
  } catch (error) {
    return {
      ok: false,
      message: redactSecrets(keyCheckMessage(error, host, opts.model, timeoutMs)),
    };
  }
}

function keyCheckMessage(error: unknown, host: string, model: string, timeoutMs: number): string {
  if (error instanceof APIConnectionTimeoutError) {
    return `the model API at ${host} did not answer within ${timeoutMs / 1000} s; check ANTHROPIC_BASE_URL and the network`;
  }
  if (error instanceof APIConnectionError) {
    return `the model API at ${host} cannot be reached (${error.message}); check ANTHROPIC_BASE_URL and the network`;
  }
  if (error instanceof APIError) {
    const detail = error.apiMessage ? `: ${error.apiMessage}` : '';
    if (error.status === 401) {
      return `the model API at ${host} rejected the API key (401)${detail}; check ANTHROPIC_API_KEY`;
    }
    if (error.status === 403) {
      return `the model API at ${host} refused the API key (403 permission denied)${detail}`;
    }
    if (error.status === 404) {
      return `the model API at ${host} does not know the model '${model}' (404)${detail}; check models.executor in the config`;
    }
    return `the model API at ${host} answered the key check with ${error.status ?? 'an error'}${detail}`;
  }
  throw error;
}
