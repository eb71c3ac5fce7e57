import { describe, expect, it } from 'vitest';
import { registerAppSecrets } from '../../src/app/register.js';
import { REDACTED, redactSecrets } from '../../src/text/redact.js';

describe('registerAppSecrets', () => {
  it("registers the App's webhook secret and key (also as given with \\n escapes)", () => {
    const webhook = 'app-webhook-secret-5d41402a';
    const key = 'not-a-pem-app-key-part-one\\nnot-a-pem-app-key-part-two';
    registerAppSecrets({ WEBHOOK_SECRET: webhook, PRIVATE_KEY: key, OTHER: 'left-alone-value-1' });

    expect(redactSecrets(`sig ${webhook} end`)).toBe(`sig ${REDACTED} end`);
    expect(redactSecrets(`k ${key.replace(/\\n/g, '\n')} end`)).toBe(`k ${REDACTED} end`);
    expect(redactSecrets(`k ${key} end`)).toBe(`k ${REDACTED} end`);
    expect(redactSecrets('left-alone-value-1')).toBe('left-alone-value-1');
  });
});
