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
