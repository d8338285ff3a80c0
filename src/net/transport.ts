// The seam between a node's logic and the network. Handlers and coordinators see
// only these interfaces; tcp.ts is the one module that imports `net`, so an
// in-memory transport can stand in for it in tests.
import { ErrorCode, RingstoreError } from '../errors.js';
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
