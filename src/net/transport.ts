// The seam between a node's logic and its peers. Handlers and coordinators see
// only these interfaces; server.ts and client.ts implement them over the
// runtime's network (real TCP, or the simulator's in-memory one).
import type { ClusterConfig } from '../config.js';
import { ErrorCode, RingstoreError } from '../errors.js';
import type { Logger } from '../log.js';
import type { MessageOf, Outgoing, ReplyTo, Request, RequestType } from '../protocol/messages.js';

export interface PeerAddress {
  readonly id: string;
  readonly host: string;
  readonly port: number;
}

export interface ReplyEnvelope<T extends RequestType> {
  reply: MessageOf<ReplyTo[T]>;
  /** The raw bytes after the JSON: the bodies the reply lists. */
  body: Buffer;
}

/** What a handler answers: the reply's fields and its bodies. */
export interface HandlerResult {
  reply: Record<string, unknown> & { type: string };
  bodies?: Buffer[];
}

export type RequestHandler = (request: Request, body: Buffer) => Promise<HandlerResult>;

export interface RequestOptions {
  timeoutMs?: number;
}

/** The client side: requests to peers over pooled connections. */
export interface Transport {
  request<T extends RequestType>(peer: PeerAddress, message: Outgoing<T> & { type: T }, bodies?: readonly Buffer[], opts?: RequestOptions): Promise<ReplyEnvelope<T>>;
  close(): Promise<void>;
}

export interface SocketLimits {
  handshakeTimeoutMs: number;
  maxUnauthenticated: number;
  idleTimeoutMs: number;
  maxInFlightPerConnection: number;
  /** Body bytes of the requests in flight on one connection; past it the node stops reading from it. */
  maxInFlightBytesPerConnection?: number;
  /** A frame must come in at least this fast over the window, or the connection is closed (absent or 0: no floor). */
  minBodyBytesPerSecond?: number;
  minBodyRateWindowMs?: number;
}

export interface TransportOptions {
  /** This process's node id: what it authenticates as, and the `sender` of its messages. */
  self: string;
  secret: Buffer;
  /**
   * Which node ids a server lets in (after they prove the secret): the members
   * of the membership it holds now, and itself. Absent: any id with the secret.
   */
  admit?: (node: string) => boolean;
  maxFrameBytes: number;
  requestTimeoutMs: number;
  connectTimeoutMs: number;
  limits: SocketLimits;
  log: Logger;
}

/** The transport options of a process of node `self`, from the config. */
export function transportOptions(config: ClusterConfig, self: string, secret: Buffer, log: Logger): TransportOptions {
  return {
    self,
    secret,
    maxFrameBytes: config.maxFrameBytes,
    requestTimeoutMs: config.timeouts.requestMs,
    connectTimeoutMs: config.timeouts.connectMs,
    limits: config.limits,
    log,
  };
}

export interface Listener {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * The details a transport attaches to PEER_UNAVAILABLE when the peer's port did
 * not take an authenticated connection (nothing listening, or a handshake or
 * MAC that failed): proof that the peer is not serving, unlike a timeout, which
 * a busy machine also gives.
 */
export function refusal(refused: boolean): Record<string, unknown> | undefined {
  return refused ? { refused: true } : undefined;
}

export function isRefusal(err: unknown): boolean {
  return err instanceof RingstoreError && err.code === ErrorCode.PEER_UNAVAILABLE && err.details?.refused === true;
}
