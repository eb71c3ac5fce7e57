import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MIN_SECRET_LENGTH, REDACTED, SecretRegistry } from '../../src/text/redact.js';

// Fake credentials, built in pieces so no scanner mistakes this file for a leak.
const ANTHROPIC = `sk-ant-api03-${'Zx9_Qw-'.repeat(12)}AA`;
const GITHUB = `ghp_${'a1B2c3D4e5'.repeat(3)}f6G7h8`;
const PAT = `github_pat_11ABCDEFG0${'x'.repeat(70)}`;
const AWS_ID = `AKIA${'IOSFODNN7EXAMPLE'}`;
const AWS_SECRET = `wJalrXUtnFEMI/K7MDENG/bPxRfiCY${'EXAMPLEKEY'}`;
const PEM = [
  '-----BEGIN RSA PRIVATE KEY-----',
  'MIIEpAIBAAKCAQEA7nG0bWkq',
  'c2VjcmV0IGtleSBtYXRlcmlhbA==',
  '-----END RSA PRIVATE KEY-----',
].join('\n');

describe('SecretRegistry.redact: credential shapes', () => {
  const r = new SecretRegistry();

  it.each([
    ['an Anthropic key', `key: ${ANTHROPIC} end`, `key: ${REDACTED} end`],
    ['a GitHub token', `token=${GITHUB};`, `token=${REDACTED};`],
    [
      'each GitHub prefix',
      'gho_abcdefghijklmnop1234 ghu_abcdefghijklmnop1234 ghs_abcdefghijklmnop1234 ghr_abcdefghijklmnop1234',
      `${REDACTED} ${REDACTED} ${REDACTED} ${REDACTED}`,
    ],
    ['a fine-grained PAT', `use ${PAT}`, `use ${REDACTED}`],
    ['an AWS access key id', `id ${AWS_ID} here`, `id ${REDACTED} here`],
    [
      'an AWS secret',
      `aws_secret_access_key = ${AWS_SECRET}`,
      `aws_secret_access_key = ${REDACTED}`,
    ],
    [
      'an AWS secret in JSON',
      `{"AWS_SECRET_ACCESS_KEY": "${AWS_SECRET}"}`,
      `{"AWS_SECRET_ACCESS_KEY": "${REDACTED}"}`,
    ],
    ['a PEM block', `before\n${PEM}\nafter`, `before\n${REDACTED}\nafter`],
    ['a cut-off PEM block', `before\n${PEM.slice(0, 60)}`, `before\n${REDACTED}`],
    ['a Bearer token', 'curl -H x Bearer abc.DEF-123_xyz/+', `curl -H x Bearer ${REDACTED}`],
    [
      'an Authorization header',
      'Authorization: token 0123456789abcdef\nnext',
      `Authorization: token ${REDACTED}\nnext`,
    ],
    [
      'an authorization JSON field',
      '{"authorization":"Basic eC1hY2Nlc3M="}',
      `{"authorization":"Basic ${REDACTED}"}`,
    ],
  ])('removes %s', (_name, input, expected) => {
    expect(r.redact(input)).toBe(expected);
  });

  it.each([
    ['a cut-off PEM block in JSON', JSON.stringify({ t: PEM.slice(0, 70) }), `{"t":"${REDACTED}"}`],
    [
      'a cut-off PEM block followed by prose',
      `${PEM.slice(0, 60)}\n\nThe rest of the guide.`,
      `${REDACTED}\n\nThe rest of the guide.`,
    ],
  ])('removes %s and keeps what follows', (_name, input, expected) => {
    expect(r.redact(input)).toBe(expected);
  });

  it('leaves placeholders in documentation alone', () => {
    const doc = 'curl -H "Authorization: Bearer $TOKEN" -H \'Authorization: token <your-token>\'';
    expect(r.redact(doc)).toBe(doc);
  });

  it('leaves ordinary text alone', () => {
    const text =
      'The skill asks for `ghp` tokens and sk-ant keys; AKIA is a prefix. Bearer of news.';
    expect(r.redact(text)).toBe(text);
  });

  it('is idempotent', () => {
    const once = r.redact(`Authorization: Bearer ${GITHUB}\nand ${ANTHROPIC}`);
    expect(r.redact(once)).toBe(once);
    expect(once).toBe(`Authorization: Bearer ${REDACTED}\nand ${REDACTED}`);
  });
});

describe('SecretRegistry: registered values', () => {
  it('removes a registered value wherever it appears, JSON-escaped forms too', () => {
    const r = new SecretRegistry();
    const secret = 'hunter2-but-longer\nline two';
    r.add(secret);
    expect(r.redact(`a ${secret} b`)).toBe(`a ${REDACTED} b`);
    expect(r.redact(JSON.stringify({ v: secret }))).toBe(`{"v":"${REDACTED}"}`);
  });

  it('removes the longer of two overlapping secrets whole', () => {
    const r = new SecretRegistry();
    r.add('abcdefgh');
    r.add('abcdefgh-ijklmnop');
    expect(r.redact('x abcdefgh-ijklmnop y abcdefgh')).toBe(`x ${REDACTED} y ${REDACTED}`);
  });

  it(`ignores values shorter than ${MIN_SECRET_LENGTH} characters`, () => {
    const r = new SecretRegistry();
    r.add('short');
    r.add('   ');
    expect(r.size).toBe(0);
    expect(r.redact('a short text')).toBe('a short text');
  });

  it('redacts bytes and keeps every other byte, binary included', () => {
    const r = new SecretRegistry();
    r.add('päss-wört-123');
    const bytes = Buffer.concat([
      Buffer.from([0, 255, 1]),
      Buffer.from('päss-wört-123'),
      Buffer.from([0xc3]),
      Buffer.from(` ${GITHUB}`),
    ]);
    const out = r.redactBytes(bytes);
    expect(out).toEqual(
      Buffer.concat([
        Buffer.from([0, 255, 1]),
        Buffer.from(REDACTED),
        Buffer.from([0xc3]),
        Buffer.from(` ${REDACTED}`),
      ]),
    );
    const clean = Buffer.from([0, 1, 2, 200]);
    expect(r.redactBytes(clean)).toBe(clean);
  });

  it('redacts strings deep inside objects and arrays, leaving other values', () => {
    const r = new SecretRegistry();
    const buffer = Buffer.from('x');
    const out = r.redactDeep({ body: `k ${ANTHROPIC}`, n: 3, list: [GITHUB, null], buffer });
    expect(out).toEqual({ body: `k ${REDACTED}`, n: 3, list: [REDACTED, null], buffer });
    expect(out.buffer).toBe(buffer);
  });
});

describe('SecretRegistry properties', () => {
  const secretChars = fc.constantFrom(
    ...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./+='.split(''),
  );
  const secret = fc.string({ unit: secretChars, minLength: MIN_SECRET_LENGTH, maxLength: 40 });

  it('output never contains a registered secret', () => {
    fc.assert(
      fc.property(
        fc.array(secret, { minLength: 1, maxLength: 4 }),
        fc.array(fc.oneof(fc.string(), secret), { maxLength: 8 }),
        (secrets, pieces) => {
          const r = new SecretRegistry();
          for (const s of secrets) r.add(s);
          const text = pieces.join('') + secrets.join(' ');
          const out = r.redact(text);
          for (const s of secrets) expect(out).not.toContain(s);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('output never contains a credential shape, wherever it is embedded', () => {
    const shape = fc.constantFrom(ANTHROPIC, GITHUB, PAT, AWS_ID, PEM);
    fc.assert(
      fc.property(fc.string(), shape, fc.string(), (before, credential, after) => {
        const out = new SecretRegistry().redact(`${before} ${credential} ${after}`);
        expect(out).not.toContain(credential);
        expect(out).not.toMatch(/sk-ant-api03-Zx9|ghp_a1B2|BEGIN RSA PRIVATE KEY/);
      }),
      { numRuns: 300 },
    );
  });

  it('text without secrets comes back unchanged', () => {
    const plain = fc.string({ unit: fc.constantFrom(...'abc xyz.,:;\n#|`*'.split('')) });
    fc.assert(
      fc.property(plain, (text) => {
        expect(new SecretRegistry().redact(text)).toBe(text);
      }),
    );
  });
});
