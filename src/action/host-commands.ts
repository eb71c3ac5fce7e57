import { spawn } from 'node:child_process';
import type { HostCommands } from './sandbox-preflight.js';

/** Runs host commands for the sandbox preflight: no shell, output kept for the error message. */
export function hostCommands(env: NodeJS.ProcessEnv): HostCommands {
  return {
    run(argv) {
      const [file, ...args] = argv;
      if (file === undefined) throw new Error('host command needs a program');
      return new Promise((resolve, reject) => {
        const child = spawn(file, args, {
          env: {
            PATH: env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
            DEBIAN_FRONTEND: 'noninteractive',
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let output = '';
        const keep = (chunk: Buffer) => {
          output = (output + chunk.toString('utf8')).slice(-4000);
        };
        child.stdout.on('data', keep);
        child.stderr.on('data', keep);
        child.on('error', (error: NodeJS.ErrnoException) => {
          if (error.code === 'ENOENT') resolve({ exitCode: 127, output: `${file}: not found` });
          else reject(error);
        });
        child.on('close', (code, signal) => {
          resolve({
            exitCode: code ?? 128,
            output: signal ? `${output}\nkilled by ${signal}` : output,
          });
        });
      });
    },
  };
}
