import { redactBytes, redactSecrets } from '../text/redact.js';

/** What the CLI adapters may touch of the process; tests pass their own. */
export interface CliIO {
  env: NodeJS.ProcessEnv;
  cwd: string;
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream;
}

/** A live progress line on a TTY, plain lines otherwise. */
export function progressPrinter(io: CliIO): { update(text: string): void; done(): void } {
  const tty = io.stdout.isTTY === true;
  let shown = false;
  return {
    update(text: string) {
      if (tty) {
        const width = Math.max(20, (io.stdout.columns ?? 80) - 1);
        io.stdout.write(`\r\x1b[2K${text.slice(0, width)}`);
        shown = true;
      } else {
        io.stdout.write(`${text}\n`);
      }
    },
    done() {
      if (tty && shown) io.stdout.write('\n');
      shown = false;
    },
  };
}

export function progressBar(done: number, total: number, width = 20): string {
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`;
}

/**
 * A stream whose writes have their secrets redacted (text/redact.ts); everything else (isTTY,
 * columns, events) is the stream's own.
 */
function redactingStream<S extends NodeJS.WritableStream>(stream: S): S {
  const write = (chunk: unknown, ...rest: unknown[]): boolean => {
    const clean =
      typeof chunk === 'string'
        ? redactSecrets(chunk)
        : Buffer.isBuffer(chunk)
          ? redactBytes(chunk)
          : chunk;
    return (stream.write as (...args: unknown[]) => boolean)(clean, ...rest);
  };
  return new Proxy(stream, {
    get(target, property) {
      if (property === 'write') return write;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** The CLI's output with every line redacted: nothing it prints can carry a secret it knows. */
export function redactingIO(io: CliIO): CliIO {
  return { ...io, stdout: redactingStream(io.stdout), stderr: redactingStream(io.stderr) };
}
