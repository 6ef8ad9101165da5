import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, FastifySchemaCompiler } from 'fastify';
import type { z } from 'zod';
import { formatPath, formatProblem, problemsFromZod } from '../config/issues.ts';
import { ErrorCode, isRoomctlError } from '../errors.ts';
import type { Logger } from '../log.ts';

/**
 * Every API error is JSON `{ error, message, path }` (issue 6, item 7):
 *   error    a stable word: validation, unauthorized, forbidden, not_found, conflict,
 *            rate_limited, unsupported_media_type, payload_too_large, bad_request, internal…
 *   message  one sentence a person can act on; validation problems as `path: message`,
 *            in the same words the config loader uses (config/issues.ts problemsFromZod)
 *   path     where: the request field for validation (`body.start`, `params.room`),
 *            otherwise the request path
 * plus `problems` (every `path: message`) for validation errors and `code` for errors
 * that carry a RoomctlError code. A 5xx is only ever a fault of the server itself; it
 * is logged with an id and the answer says nothing more than that id.
 */
export interface ErrorBody {
  error: string;
  message: string;
  path: string;
  problems?: string[];
  code?: number;
}

export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly error: string,
    message: string,
    readonly path?: string,
    readonly problems?: string[],
    readonly code?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const notFound = (what: string, name: string, path?: string) => new ApiError(404, 'not_found', `unknown ${what} "${name}"`, path);
export const forbidden = (message: string) => new ApiError(403, 'forbidden', message);
export const unauthorized = (message: string) => new ApiError(401, 'unauthorized', message);

/** A zod failure of one part of a request, kept whole so it can be explained like a config error. */
export class RequestValidationError extends Error {
  readonly statusCode = 400;
  constructor(
    readonly part: string,
    readonly zodError: z.ZodError,
  ) {
    super('request validation failed');
  }
}

/** P15: a confidential field's bad value is never quoted back (it might be logged on the way). */
const CONFIDENTIAL_FIELDS = new Set(['title', 'organizer']);

export function validationProblems(part: string, err: z.ZodError): { path: string; problems: string[] } {
  const problems = problemsFromZod(err, [part]);
  const lines = problems.map((p) => (CONFIDENTIAL_FIELDS.has(String(p.path[1])) ? `${part}.${String(p.path[1])}: invalid (not shown, P15)` : formatProblem(p)));
  const first = problems[0];
  return { path: first ? formatPath(first.path) : part, problems: lines };
}

/** The zod validator for fastify routes: parses with reportInput so messages can say what was given. */
export const validatorCompiler: FastifySchemaCompiler<z.ZodType> =
  ({ schema, httpPart }) =>
  (data) => {
    const r = schema.safeParse(data, { reportInput: true });
    if (r.success) return { value: r.data };
    const part = httpPart === 'querystring' ? 'query' : (httpPart ?? 'request');
    return { error: new RequestValidationError(part, r.error) };
  };

const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'bad_request',
  FST_ERR_CTP_INVALID_JSON_BODY: 'bad_request',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad_request',
};

/** A RoomctlError from the engine → its HTTP status. */
function fromRoomctl(code: number): [number, string] {
  switch (code) {
    case ErrorCode.MeetingInvalid:
    case ErrorCode.PointValueInvalid:
    case ErrorCode.PointNotWritable:
      return [400, 'validation'];
    case ErrorCode.MeetingInPast:
      return [422, 'validation'];
    case ErrorCode.MeetingOverlap:
      return [409, 'conflict'];
    case ErrorCode.MeetingUnknown:
    case ErrorCode.MeetingRoomUnknown:
    case ErrorCode.PointUnknown:
      return [404, 'not_found'];
    case ErrorCode.ScheduleWriteFailed:
      return [503, 'unavailable'];
    default:
      return [500, 'internal'];
  }
}

export function toErrorReply(err: unknown, req: FastifyRequest): { status: number; body: ErrorBody } {
  const path = req.url.split('?')[0] ?? '/';
  if (err instanceof ApiError) {
    const body: ErrorBody = { error: err.error, message: err.message, path: err.path ?? path };
    if (err.problems) body.problems = err.problems;
    if (err.code !== undefined) body.code = err.code;
    return { status: err.statusCode, body };
  }
  if (err instanceof RequestValidationError) {
    const v = validationProblems(err.part, err.zodError);
    return { status: 400, body: { error: 'validation', message: v.problems.join('; '), path: v.path, problems: v.problems } };
  }
  if (isRoomctlError(err)) {
    const [status, error] = fromRoomctl(err.code);
    const problems = Array.isArray(err.details?.problems) ? (err.details.problems as unknown[]).map(String) : undefined;
    const body: ErrorBody = { error, message: err.message, path, code: err.code };
    if (problems) body.problems = problems;
    if (status < 500) return { status, body };
    if (status === 503) return { status, body };
  }
  const fe = err as Partial<FastifyError> & { status?: number };
  const status = fe.statusCode ?? fe.status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const error = status === 429 ? 'rate_limited' : status === 404 ? 'not_found' : status === 405 ? 'method_not_allowed' : (FASTIFY_CODES[fe.code ?? ''] ?? 'bad_request');
    return { status, body: { error, message: fe.message ?? 'bad request', path } };
  }
  return { status: 500, body: { error: 'internal', message: 'internal error', path } };
}

/** Error and not-found handlers producing ErrorBody; server faults logged with a reference id. */
export function installErrorHandling(app: FastifyInstance, log: Logger): void {
  let faults = 0;
  app.setErrorHandler((err: unknown, req: FastifyRequest, reply: FastifyReply) => {
    const { status, body } = toErrorReply(err, req);
    // The audit entry says why (validation messages never quote a title or organizer).
    req.auditNote = { ...req.auditNote, reason: req.auditNote?.reason ?? `${body.error}: ${body.message.slice(0, 200)}` };
    if (status >= 500) {
      const ref = `${Date.now().toString(36)}-${++faults}`;
      body.message = status === 503 ? body.message : `internal error (reference ${ref} in the service log)`;
      log.error({ err, ref, method: req.method, path: body.path }, 'API: request failed');
    }
    return reply.code(status).type('application/json; charset=utf-8').send(body);
  });
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0] ?? '/';
    return reply.code(404).send({ error: 'not_found', message: `no such route: ${req.method} ${path.length > 200 ? `${path.slice(0, 200)}…` : path}`, path } satisfies ErrorBody);
  });
}
