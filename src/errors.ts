// Errors are values with stable codes. Every layer throws RingstoreError; the REST
// layer and the socket server turn it into a response in one place each, so no
// handler builds error JSON by hand.

export const ErrorCode = {
  BAD_REQUEST: 'BAD_REQUEST',
  INVALID_BUCKET_NAME: 'INVALID_BUCKET_NAME',
  INVALID_FILE_NAME: 'INVALID_FILE_NAME',
  INVALID_CONTEXT: 'INVALID_CONTEXT',
  INVALID_VERSION: 'INVALID_VERSION',
  NO_SUCH_BUCKET: 'NO_SUCH_BUCKET',
  NO_SUCH_FILE: 'NO_SUCH_FILE',
  NO_SUCH_VERSION: 'NO_SUCH_VERSION',
  NOT_FOUND: 'NOT_FOUND',
  METHOD_NOT_ALLOWED: 'METHOD_NOT_ALLOWED',
  TOO_LARGE: 'TOO_LARGE',
  TOO_MANY_SIBLINGS: 'TOO_MANY_SIBLINGS',
  QUORUM_NOT_REACHED: 'QUORUM_NOT_REACHED',
  PEER_UNAVAILABLE: 'PEER_UNAVAILABLE',
  PEER_TIMEOUT: 'PEER_TIMEOUT',
  FRAME_TOO_LARGE: 'FRAME_TOO_LARGE',
  BAD_FRAME: 'BAD_FRAME',
  BAD_MESSAGE: 'BAD_MESSAGE',
  MISSING_BODIES: 'MISSING_BODIES',
  OVERLOADED: 'OVERLOADED',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  REQUEST_TIMEOUT: 'REQUEST_TIMEOUT',
  CONFIG: 'CONFIG',
  /** A replica's disk is full (ENOSPC, EDQUOT): it refuses writes until space is free. */
  INSUFFICIENT_STORAGE: 'INSUFFICIENT_STORAGE',
  /** A disk operation failed (EIO and the like): that operation, not the process. */
  DISK_ERROR: 'DISK_ERROR',
  /** A replica whose disk kept failing refuses writes until a probe succeeds. */
  READ_ONLY: 'READ_ONLY',
  /** Another proposal, lock holder or transaction got there first. */
  CONFLICT: 'CONFLICT',
  /** The file is locked and the write did not carry the holder's lock token. */
  LOCKED: 'LOCKED',
  /** A transaction's file is held by another transaction, or a context it gave is stale: it was aborted, nothing written. */
  TXN_CONFLICT: 'TXN_CONFLICT',
  /** A read-atomic read met writes still moving after its rounds: try again. */
  TXN_READ_BUSY: 'TXN_READ_BUSY',
  /** The lock token is not the current one (the lease ended, or a newer holder has it). */
  STALE_LOCK_TOKEN: 'STALE_LOCK_TOKEN',
  /** A compare-and-set may or may not have taken effect (its proposal reached some owners, then others won): read to find out. */
  OUTCOME_UNKNOWN: 'OUTCOME_UNKNOWN',
  /** A membership change names a node that is not a member. */
  NO_SUCH_MEMBER: 'NO_SUCH_MEMBER',
  /** A join names a node that is a member already (with another address, or the same). */
  MEMBER_EXISTS: 'MEMBER_EXISTS',
  /** A leave would leave fewer members than replicas per key (N). */
  TOO_FEW_MEMBERS: 'TOO_FEW_MEMBERS',
  /** A replica knows a newer membership epoch than the coordinator that wrote to it: fetch it and write again. */
  STALE_EPOCH: 'STALE_EPOCH',
  /** This machine is not a member (started to join and not yet added, or left): it coordinates no writes. */
  NOT_A_MEMBER: 'NOT_A_MEMBER',
  /** An If-Match or If-None-Match precondition does not hold: the file changed since the client saw it (or exists, or does not). */
  PRECONDITION_FAILED: 'PRECONDITION_FAILED',
  /** A Range that starts past the end of the file. */
  RANGE_NOT_SATISFIABLE: 'RANGE_NOT_SATISFIABLE',
  /** No live replica could return a chunk of a large file. */
  CHUNK_UNAVAILABLE: 'CHUNK_UNAVAILABLE',
  INVALID_USER_NAME: 'INVALID_USER_NAME',
  INVALID_PASSWORD: 'INVALID_PASSWORD',
  /** A sign-up names a user that exists. */
  USER_EXISTS: 'USER_EXISTS',
  /** The caller is known (or anonymous) but may not do this to this bucket. */
  FORBIDDEN: 'FORBIDDEN',
  INTERNAL: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The HTTP status each code maps to; the REST layer uses nothing else. */
export const httpStatus: Record<ErrorCode, number> = {
  BAD_REQUEST: 400,
  INVALID_BUCKET_NAME: 400,
  INVALID_FILE_NAME: 400,
  INVALID_CONTEXT: 400,
  INVALID_VERSION: 400,
  NO_SUCH_BUCKET: 404,
  NO_SUCH_FILE: 404,
  NO_SUCH_VERSION: 404,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  TOO_LARGE: 413,
  TOO_MANY_SIBLINGS: 409,
  QUORUM_NOT_REACHED: 503,
  PEER_UNAVAILABLE: 503,
  PEER_TIMEOUT: 503,
  FRAME_TOO_LARGE: 413,
  BAD_FRAME: 400,
  BAD_MESSAGE: 400,
  MISSING_BODIES: 500,
  OVERLOADED: 503,
  UNAUTHENTICATED: 401,
  REQUEST_TIMEOUT: 408,
  CONFIG: 500,
  INSUFFICIENT_STORAGE: 507,
  DISK_ERROR: 500,
  READ_ONLY: 503,
  CONFLICT: 409,
  TXN_CONFLICT: 409,
  TXN_READ_BUSY: 503,
  LOCKED: 423,
  STALE_LOCK_TOKEN: 409,
  OUTCOME_UNKNOWN: 503,
  NO_SUCH_MEMBER: 404,
  MEMBER_EXISTS: 409,
  TOO_FEW_MEMBERS: 409,
  STALE_EPOCH: 503,
  NOT_A_MEMBER: 503,
  PRECONDITION_FAILED: 412,
  RANGE_NOT_SATISFIABLE: 416,
  CHUNK_UNAVAILABLE: 503,
  INVALID_USER_NAME: 400,
  INVALID_PASSWORD: 400,
  USER_EXISTS: 409,
  FORBIDDEN: 403,
  INTERNAL: 500,
};

export class RingstoreError extends Error {
  override readonly name = 'RingstoreError';
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, opts: { details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.details = opts.details;
  }

  get status(): number {
    return httpStatus[this.code];
  }
}

export function isCode(v: unknown): v is ErrorCode {
  return typeof v === 'string' && Object.hasOwn(httpStatus, v);
}

/** Any thrown value as a RingstoreError, keeping the original as cause. */
export function asRingstoreError(err: unknown): RingstoreError {
  if (err instanceof RingstoreError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new RingstoreError(ErrorCode.INTERNAL, message, { cause: err });
}

/** One failed replica, as reported inside quorum errors and write answers. */
export interface ReplicaFailure {
  node: string;
  code: string;
  message: string;
}

export function replicaFailure(node: string, err: unknown): ReplicaFailure {
  const e = asRingstoreError(err);
  return { node, code: e.code, message: e.message };
}
