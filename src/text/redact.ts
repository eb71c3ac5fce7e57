/**
 * Redaction of everything that leaves the process: commits, GitHub bodies, job summaries,
 * artifacts and log lines. Two kinds of secret are removed:
 *
 * - Known values: every secret the process was given (the Anthropic key, the GitHub token, any
 *   token an Octokit is built with, values masked with `core.setSecret`). Adapters register them
 *   with `registerSecret`; the registry is process-wide because, like the runner's log masking,
 *   a secret registered anywhere must be masked everywhere.
 * - Well-known credential shapes, whoever wrote them (a model, a probe, a tool's output):
 *   Anthropic `sk-ant-…`, GitHub `ghp_ gho_ ghu_ ghs_ ghr_ github_pat_…`, AWS access key ids
 *   (`AKIA…`, `ASIA…`) and `aws_secret_access_key=…` values, PEM private-key blocks (a cut-off
 *   block up to its last base64 line), `Bearer …` tokens and `Authorization:` credentials.
 *
 * Each secret becomes `[REDACTED]`. Values shorter than MIN_SECRET_LENGTH are not registered:
 * masking a two-letter value everywhere would destroy the text and protect nothing.
 */

export const REDACTED = '[REDACTED]';
export const MIN_SECRET_LENGTH = 8;

interface Shape {
  pattern: RegExp;
  /** What replaces a match: kept prefix groups plus the marker. */
  replace: string;
}

const SHAPES: readonly Shape[] = [
  {
    // A whole PEM block; when its END line is missing, the BEGIN line and the base64 (or
    // `Name: value` header) lines after it. Line breaks may be real or JSON-escaped.
    pattern:
      /-----BEGIN[A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----(?:[\s\S]*?-----END[A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----|(?:(?:\r?\n|(?:\\r)?\\n)(?:[A-Za-z0-9+/=]+|[A-Za-z-]+: [^\r\n\\"']*)(?=\r?\n|\\[rn]|["']|$))*)/g,
    replace: REDACTED,
  },
  { pattern: /sk-ant-[A-Za-z0-9_-]{6,}/g, replace: REDACTED },
  { pattern: /\bgh[opusr]_[A-Za-z0-9]{16,}/g, replace: REDACTED },
  { pattern: /\bgithub_pat_[A-Za-z0-9_]{16,}/g, replace: REDACTED },
  { pattern: /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g, replace: REDACTED },
  {
    pattern: /(aws_secret_access_key["']?\s*[:=]\s*["']?)[A-Za-z0-9/+=]{16,}/gi,
    replace: `$1${REDACTED}`,
  },
  {
    // The credential after `Authorization:` (and its scheme); placeholders like `$TOKEN` or
    // `<token>` in documentation are left alone.
    pattern:
      /(authorization["']?\s*[:=]\s*["']?(?:(?:basic|bearer|token|digest)\s+)?)(?![$<{%[])[A-Za-z0-9\-._~+/]{8,}=*/gi,
    replace: `$1${REDACTED}`,
  },
  { pattern: /\b(bearer\s+)(?![$<{%[])[A-Za-z0-9\-._~+/]{8,}=*/gi, replace: `$1${REDACTED}` },
];

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A set of secret values and the text with all of them (and every known shape) removed. */
export class SecretRegistry {
  readonly #values = new Set<string>();
  #pattern: RegExp | null = null;
  /** The same values as latin1 strings of their UTF-8 bytes, for redactBytes. */
  #latin: SecretRegistry | null = null;

  /** Remembers a secret (and the forms it takes inside JSON); short or blank values are ignored. */
  add(value: string): void {
    const trimmed = value.trim();
    if (trimmed.length < MIN_SECRET_LENGTH) return;
    const before = this.#values.size;
    for (const form of [value, trimmed, JSON.stringify(trimmed).slice(1, -1)]) {
      if (form.length >= MIN_SECRET_LENGTH) this.#values.add(form);
    }
    if (this.#values.size !== before) {
      this.#pattern = null;
      this.#latin = null;
    }
  }

  get size(): number {
    return this.#values.size;
  }

  /** The text with every registered value and every credential shape replaced by `[REDACTED]`. */
  redact(text: string): string {
    let out = text;
    // A replacement can join its neighbours into a new match; a few passes settle any real text.
    for (let pass = 0; pass < 4; pass += 1) {
      const next = this.#once(out);
      if (next === out) return out;
      out = next;
    }
    return out;
  }

  #once(text: string): string {
    let out = text;
    const known = this.#known();
    if (known !== null) out = out.replace(known, REDACTED);
    for (const shape of SHAPES) out = out.replace(shape.pattern, shape.replace);
    return out;
  }

  #known(): RegExp | null {
    if (this.#values.size === 0) return null;
    if (this.#pattern === null) {
      // Longest first, so a secret that contains another is removed whole.
      const values = [...this.#values].sort((a, b) => b.length - a.length);
      this.#pattern = new RegExp(values.map(escapeRegExp).join('|'), 'g');
    }
    return this.#pattern;
  }

  /**
   * Bytes with the same secrets removed, every other byte kept as it was (binary files too):
   * the patterns run over the bytes read as latin1, one character per byte.
   */
  redactBytes(bytes: Buffer): Buffer {
    const text = bytes.toString('latin1');
    if (this.#latin === null) {
      this.#latin = new SecretRegistry();
      for (const value of this.#values) {
        this.#latin.#values.add(Buffer.from(value).toString('latin1'));
      }
    }
    const out = this.#latin.redact(text);
    return out === text ? bytes : Buffer.from(out, 'latin1');
  }

  /** Strings anywhere inside plain objects and arrays redacted; other values kept as they are. */
  redactDeep<T>(value: T): T {
    if (typeof value === 'string') return this.redact(value) as T;
    if (Array.isArray(value)) return value.map((item) => this.redactDeep(item)) as T;
    if (value !== null && typeof value === 'object' && isPlainObject(value)) {
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value)) out[key] = this.redactDeep(item);
      return out as T;
    }
    return value;
  }
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** The process's registry: what every chokepoint redacts with. */
export const processSecrets = new SecretRegistry();

/** Registers a secret value for the whole process (adapters call this with what they were given). */
export function registerSecret(value: string | null | undefined): void {
  if (typeof value === 'string') processSecrets.add(value);
}

/** The text with every registered secret and credential shape replaced by `[REDACTED]`. */
export function redactSecrets(text: string): string {
  return processSecrets.redact(text);
}

export function redactBytes(bytes: Buffer): Buffer {
  return processSecrets.redactBytes(bytes);
}

/** A file's new content, redacted the same way whether it is text or bytes. */
export function redactContent(content: string | Buffer): string | Buffer {
  return typeof content === 'string' ? redactSecrets(content) : redactBytes(content);
}

export function redactDeep<T>(value: T): T {
  return processSecrets.redactDeep(value);
}
