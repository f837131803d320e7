import { ProblemError, type ProblemCode } from '#infra/errors';

/** What the HTTP layer knows about an error thrown anywhere below it. */
interface HttpishError {
  code?: unknown;
  statusCode?: unknown;
  status?: unknown;
  message?: unknown;
  getStatus?: () => number;
  getResponse?: () => unknown;
  cause?: unknown;
}

const FASTIFY_CODES: Record<string, [ProblemCode, string]> = {
  FST_ERR_CTP_INVALID_JSON: ['malformed_json', 'The request body is not valid JSON.'],
  FST_ERR_CTP_INVALID_JSON_BODY: ['malformed_json', 'The request body is not valid JSON.'],
  FST_ERR_CTP_EMPTY_JSON_BODY: ['malformed_json', 'The request body is empty but the content type is JSON.'],
  FST_ERR_CTP_BODY_TOO_LARGE: ['payload_too_large', 'The request body is larger than the limit.'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: ['unsupported_media_type', 'Send the body as application/json.'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: ['bad_request', 'The Content-Length header does not match the body.'],
  FST_ERR_CTP_INVALID_TYPE: ['unsupported_media_type', 'The Content-Type header is invalid.'],
};

/**
 * Error codes that mean "a dependency is down or saturated", whoever raised them: Prisma's
 * connection errors (P1001 unreachable, P1002 timeout, P1017 closed, P2024 pool timeout)
 * and Node's socket errors. They answer 503 with Retry-After instead of a 500.
 */
const UNAVAILABLE_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH']);

/**
 * Raw queries ($queryRaw) report a dead database as P2010 ("raw query failed") with the driver
 * adapter's error kind in meta: these kinds are the same outage as P1001 & co.
 */
const UNAVAILABLE_DRIVER_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections']);

function driverErrorKind(error: unknown): string | undefined {
  const meta = (error as { meta?: { driverAdapterError?: { cause?: { kind?: unknown } } } } | null)?.meta;
  const kind = meta?.driverAdapterError?.cause?.kind;
  return typeof kind === 'string' ? kind : undefined;
}

const STATUS_CODES: Record<number, ProblemCode> = {
  400: 'bad_request',
  401: 'unauthenticated',
  403: 'forbidden',
  404: 'route_not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  422: 'validation_failed',
  429: 'rate_limited',
  503: 'service_unavailable',
};

/**
 * Maps any thrown value to a ProblemError. Known framework errors keep their status;
 * anything unknown becomes a 500 whose detail never leaks internals.
 */
export function toProblem(error: unknown): ProblemError {
  if (error instanceof ProblemError) return error;
  const e = (typeof error === 'object' && error !== null ? error : {}) as HttpishError;
  // Nest wraps Fastify's own errors (body parsing) in an HttpException with the original as cause.
  for (const candidate of [e, e.cause as HttpishError | undefined]) {
    const known = candidate && typeof candidate.code === 'string' ? FASTIFY_CODES[candidate.code] : undefined;
    if (known) return new ProblemError(known[0], known[1]);
  }
  if ((typeof e.code === 'string' && UNAVAILABLE_CODES.has(e.code)) || UNAVAILABLE_DRIVER_KINDS.has(driverErrorKind(error) ?? '')) {
    return new ProblemError('service_unavailable', 'A backing service is unreachable right now; retry shortly.', { headers: { 'retry-after': '5' }, cause: error });
  }
  if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || e.statusCode === 413) return new ProblemError('payload_too_large', 'The request body is larger than the limit.');
  if (typeof e.getStatus === 'function') {
    const status = e.getStatus();
    const code = STATUS_CODES[status];
    if (code) {
      const detail = status === 404 ? 'No route matches this method and path.' : typeof e.message === 'string' ? e.message : 'Request failed.';
      return new ProblemError(code, detail);
    }
  }
  const statusCode = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  if (statusCode !== undefined && statusCode >= 400 && statusCode < 500) {
    return new ProblemError(STATUS_CODES[statusCode] ?? 'bad_request', typeof e.message === 'string' ? e.message : 'Bad request.');
  }
  return new ProblemError('internal_error', 'Something went wrong on our side. Quote the requestId when you report it.', { cause: error });
}
