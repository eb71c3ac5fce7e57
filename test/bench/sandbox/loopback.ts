import { once } from 'node:events';
import { createServer } from 'node:net';

/** Runs `fn` with the port of a TCP server listening on 127.0.0.1 in this (the parent) process. */
export async function withLoopbackServer<T>(fn: (port: number) => Promise<T>): Promise<T> {
  const server = createServer((socket) => {
    // The client may exit before reading; a reset is expected then.
    socket.on('error', () => socket.destroy());
    socket.end('hello');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('server has no port');
    return await fn(address.port);
  } finally {
    server.close();
  }
}

/** A node script that prints `connected` or `error <code>` for a TCP connect to 127.0.0.1:port. */
export function connectScript(port: number): string {
  return (
    `require('net').connect(${port}, '127.0.0.1')` +
    `.on('connect', () => { console.log('connected'); process.exit(0); })` +
    `.on('error', (e) => { console.log('error', e.code); process.exit(1); })`
  );
}
