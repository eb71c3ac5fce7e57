import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { GitError, gitEnv } from './git.js';
import { announceGitProcess } from './git-meter.js';

export interface GitObject {
  oid: string;
  type: string;
  /** The object's bytes; empty for a reader started with `headersOnly`. */
  content: Buffer;
}

interface Pending {
  spec: string;
  resolve: (found: GitObject | null) => void;
  reject: (error: Error) => void;
}

/**
 * One long-lived `git cat-file --batch` (or `--batch-check`) per store: reading a file costs a
 * line written to a pipe instead of a new git process (the bench showed hundreds of them per
 * run). Requests are answered in order, so concurrent reads share one round trip; `<rev>:<path>`
 * and `HEAD` are resolved by git at each request, so HEAD is always current.
 */
export class ObjectReader {
  private child: ChildProcessWithoutNullStreams | null = null;
  private buffer = Buffer.alloc(0);
  private readonly pending: Pending[] = [];
  private readonly args: readonly string[];

  /** `headersOnly`: `--batch-check`, answering oid and type without the content. */
  constructor(
    private readonly cwd: string,
    private readonly options: { headersOnly?: boolean } = {},
  ) {
    this.args = ['cat-file', options.headersOnly === true ? '--batch-check' : '--batch'];
  }

  /** The object at `<rev>:<path>` (`''` is the root tree); null when there is none. */
  read(rev: string, path: string): Promise<GitObject | null> {
    return this.readSpec(`${rev}:${path}`, path);
  }

  /**
   * The object any revision names (`HEAD^{commit}`, a full oid); null when it names none. The
   * caller must make sure it is a revision and not a user-supplied string.
   */
  readSpec(spec: string, shown = spec): Promise<GitObject | null> {
    if (/[\r\n]/.test(spec)) {
      return Promise.reject(
        new GitError(this.args, null, '', {
          detail: `cannot read '${shown}': line breaks are refused`,
        }),
      );
    }
    return new Promise((resolve, reject) => {
      const child = this.start();
      this.pending.push({ spec, resolve, reject });
      child.stdin.write(`${spec}\n`);
    });
  }

  close(): void {
    const child = this.child;
    this.child = null;
    if (child) child.stdin.end();
  }

  private start(): ChildProcessWithoutNullStreams {
    if (this.child) return this.child;
    announceGitProcess(this.args, this.cwd);
    const child = spawn('git', [...this.args], { cwd: this.cwd, env: gitEnv(undefined) });
    this.child = child;
    this.buffer = Buffer.alloc(0);
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text: string) => {
      stderr = (stderr + text).slice(-2000);
    });
    child.stdout.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.drain();
    });
    const fail = (why: string) => {
      if (this.child === child) this.child = null;
      const error = new GitError(this.args, null, stderr, { detail: why });
      for (const p of this.pending.splice(0)) p.reject(error);
    };
    child.on('error', (error) => fail(`could not run: ${error.message}`));
    child.on('close', (code) => {
      if (this.pending.length > 0) fail(`stopped early (exit code ${code})`);
      else if (this.child === child) this.child = null;
    });
    return child;
  }

  /** Answers every request whose whole reply has arrived. */
  private drain(): void {
    for (;;) {
      const head = this.pending[0];
      if (!head) return;
      const newline = this.buffer.indexOf(10);
      if (newline < 0) return;
      const header = this.buffer.subarray(0, newline).toString('utf8');
      if (header.endsWith(' missing') || header.endsWith(' ambiguous')) {
        this.buffer = this.buffer.subarray(newline + 1);
        this.pending.shift();
        head.resolve(null);
        continue;
      }
      const [oid, type, sizeText] = header.split(' ');
      const size = Number(sizeText);
      if (oid === undefined || type === undefined || !Number.isInteger(size)) {
        this.pending.shift();
        head.reject(
          new GitError(this.args, null, '', {
            detail: `unexpected answer '${header}' for '${head.spec}'`,
          }),
        );
        this.buffer = Buffer.alloc(0);
        return;
      }
      if (this.options.headersOnly === true) {
        this.buffer = this.buffer.subarray(newline + 1);
        this.pending.shift();
        head.resolve({ oid, type, content: Buffer.alloc(0) });
        continue;
      }
      const end = newline + 1 + size;
      if (this.buffer.length < end + 1) return;
      const content = Buffer.from(this.buffer.subarray(newline + 1, end));
      this.buffer = this.buffer.subarray(end + 1);
      this.pending.shift();
      head.resolve({ oid, type, content });
    }
  }
}
