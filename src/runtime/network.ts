// The network as the socket layer sees it: byte pipes between a dialer and a
// listener, like TCP connections. The framing, the handshake, sealing and
// request multiplexing (../net/) are written once against this, and run over
// real sockets in production (./tcp.ts) and over the simulator's in-memory
// network in tests (../sim/network.ts), so both carry the same frames.

/** One end of a connection. */
export interface Pipe {
  /** Where the other end is, for logs: "host:port". */
  readonly remote: string;
  /** Queue bytes for the other end, in order. */
  write(chunks: readonly Buffer[]): void;
  /** True while written bytes wait to leave (the writer should wait for 'drain'). */
  readonly needsDrain: boolean;
  /** Stop delivering data to this end / start again (backpressure). */
  pause(): void;
  resume(): void;
  /** Close after what was written has left. */
  end(): void;
  /** Close now. */
  destroy(): void;
  readonly destroyed: boolean;
  onData(fn: (chunk: Buffer) => void): void;
  onDrain(fn: () => void): void;
  offDrain(fn: () => void): void;
  /**
   * The connection is gone (closed by either side, or failed). `error` is set
   * when it failed; a refused connection has code 'ECONNREFUSED'.
   */
  onClose(fn: (error?: NodeJS.ErrnoException) => void): void;
}

export interface PipeListener {
  readonly port: number;
  /** Stop accepting, and destroy every connection accepted. */
  close(): Promise<void>;
}

export interface Network {
  /** Open a connection; its failure (refused, unreachable) arrives as onClose with an error. */
  connect(host: string, port: number): Pipe;
  listen(host: string, port: number, onPipe: (pipe: Pipe) => void): Promise<PipeListener>;
}
