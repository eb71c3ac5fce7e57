import { once } from 'node:events';
import { createConnection, createServer, type Socket } from 'node:net';

export interface LoopbackBridge {
  readonly socketPath: string;
  close(): Promise<void>;
}

/**
 * Listens on a Unix socket and pipes every connection to a loopback TCP port. A sandbox with its
 * own network namespace reaches the host's model gateway only through such a socket bound into it.
 */
export async function bridgeUnixToLoopback(
  socketPath: string,
  target: { host: '127.0.0.1'; port: number },
): Promise<LoopbackBridge> {
  const open = new Set<Socket>();
  const server = createServer((inner) => {
    const outer = createConnection(target.port, target.host);
    for (const socket of [inner, outer]) {
      open.add(socket);
      socket.on('close', () => open.delete(socket));
    }
    // A reset on one side ends the other: the pair is one connection.
    inner.on('error', () => outer.destroy());
    outer.on('error', () => inner.destroy());
    inner.pipe(outer).pipe(inner);
  });
  server.listen(socketPath);
  await once(server, 'listening');
  return {
    socketPath,
    async close() {
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      );
    },
  };
}

/** The host and port of a `http://127.0.0.1:<port>` URL; anything else is refused. */
export function loopbackTarget(url: string): { host: '127.0.0.1'; port: number } {
  const parsed = new URL(url);
  if (parsed.hostname !== '127.0.0.1' || parsed.port === '') {
    throw new Error(`expected a http://127.0.0.1:<port> URL, got ${url}`);
  }
  return { host: '127.0.0.1', port: Number(parsed.port) };
}
