// Pipes over real TCP sockets: the only module that imports node:net. The
// same pipes carry TLS (tls.ts), whose sockets are net.Sockets too.
import net from 'node:net';
import type { Network, Pipe, PipeListener } from './network.js';

class SocketPipe implements Pipe {
  private closeFns: Array<(error?: NodeJS.ErrnoException) => void> = [];
  private error: NodeJS.ErrnoException | undefined;

  constructor(
    private readonly socket: net.Socket,
    readonly remote: string,
  ) {
    socket.setNoDelay(true);
    socket.on('error', (err) => (this.error = err));
    socket.on('close', () => {
      for (const fn of this.closeFns) fn(this.error);
    });
  }

  write(chunks: readonly Buffer[]): void {
    const s = this.socket;
    if (s.destroyed || !s.writable) return;
    s.cork();
    for (const c of chunks) s.write(c);
    process.nextTick(() => s.uncork());
  }

  get needsDrain(): boolean {
    return this.socket.writableNeedDrain;
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  get destroyed(): boolean {
    return this.socket.destroyed;
  }

  onData(fn: (chunk: Buffer) => void): void {
    this.socket.on('data', fn);
  }

  onDrain(fn: () => void): void {
    this.socket.on('drain', fn);
  }

  offDrain(fn: () => void): void {
    this.socket.off('drain', fn);
  }

  onClose(fn: (error?: NodeJS.ErrnoException) => void): void {
    this.closeFns.push(fn);
  }
}

/** A Network over some kind of socket: how to dial one, and a server that hands over each one accepted. */
export function socketNetwork(dial: (host: string, port: number) => net.Socket, serve: (onSocket: (socket: net.Socket) => void) => net.Server): Network {
  return {
    connect(host, port) {
      return new SocketPipe(dial(host, port), `${host}:${port}`);
    },
    listen(host, port, onPipe) {
      return listen(serve, host, port, onPipe);
    },
  };
}

export const tcpNetwork: Network = socketNetwork(
  (host, port) => net.connect({ host, port }),
  (onSocket) => net.createServer(onSocket),
);

function listen(serve: (onSocket: (socket: net.Socket) => void) => net.Server, host: string, port: number, onPipe: (pipe: Pipe) => void): Promise<PipeListener> {
  const sockets = new Set<net.Socket>();
  const server = serve((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    onPipe(new SocketPipe(socket, `${socket.remoteAddress}:${socket.remotePort}`));
  });
  server.maxConnections = 100_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      server.on('error', () => undefined); // accept errors (EMFILE) affect one connection, not the server
      const addr = server.address();
      resolve({
        port: typeof addr === 'object' && addr ? addr.port : port,
        close: () =>
          new Promise<void>((res) => {
            for (const s of sockets) s.destroy();
            server.close(() => res());
          }),
      });
    });
  });
}
