import { json, RequestHandler } from 'express';
import { CodedError } from '@app/domain';
import { assertJsonDepth } from './json-depth';

export const BODY_LIMIT = '1mb';

/** body-parser marks its errors with a `type`; they are all client mistakes. */
interface BodyParserError extends Error {
  type: string;
}

/** An http-errors error with a client status but no `type` (a body that does not inflate). */
interface ClientStatusError extends Error {
  status: number;
}

/**
 * JSON bodies are parsed everywhere except file uploads, whose raw body is streamed into the
 * sandbox as it is, whatever its content type (a .json file is still just bytes).
 */
function isJsonRequest(req: {
  headers: Record<string, string | string[] | undefined>;
  url?: string;
}): boolean {
  const type = String(req.headers['content-type'] ?? '');
  const path = (req.url ?? '').split('?')[0];
  return /^application\/([\w.+-]+\+)?json\b/i.test(type) && !path.endsWith('/files');
}

/**
 * Whether the request announces a body at all (type-is' hasBody: a Transfer-Encoding, or any
 * Content-Length, even 0). body-parser skips the others itself, but only after a few checks of
 * its own; GET, HEAD and DELETE requests, which never carry one here, are most of the traffic.
 */
export function hasBody(req: { headers: Record<string, string | string[] | undefined> }): boolean {
  return (
    req.headers['transfer-encoding'] !== undefined || req.headers['content-length'] !== undefined
  );
}

function isBodyParserError(error: unknown): error is BodyParserError {
  return error instanceof Error && typeof (error as Partial<BodyParserError>).type === 'string';
}

function isClientStatusError(error: unknown): error is ClientStatusError {
  const status = error instanceof Error ? (error as Partial<ClientStatusError>).status : undefined;
  return typeof status === 'number' && status >= 400 && status < 500;
}

/** body-parser's failure as the coded error the API answers with; anything else unchanged. */
function codedBodyError(err: unknown): unknown {
  // Our own verdict from `verify` (too deep) comes back wrapped with a `type` added.
  if (err instanceof CodedError) return err;
  if (!isBodyParserError(err)) {
    // A body that is not what its Content-Encoding says (gzip header wrong, truncated stream):
    // body-parser passes zlib's error on with a 400 status and no type.
    return isClientStatusError(err)
      ? new CodedError('MALFORMED_JSON', `request body does not decode: ${err.message}`)
      : err;
  }
  switch (err.type) {
    case 'entity.too.large':
      return new CodedError('PAYLOAD_TOO_LARGE', `request body is larger than ${BODY_LIMIT}`);
    case 'entity.parse.failed':
      return new CodedError('MALFORMED_JSON', `request body is not valid JSON: ${err.message}`);
    case 'encoding.unsupported':
      return new CodedError(
        'UNSUPPORTED_ENCODING',
        `request body was refused: ${err.message}; use gzip, deflate, br or identity`,
      );
    default:
      return new CodedError('VALIDATION_FAILED', `request body was refused: ${err.message}`);
  }
}

/**
 * Parses JSON bodies up to 1 MiB and turns body-parser's failures into coded errors before Nest
 * sees them (Nest would otherwise flatten a syntax error into an anonymous 400). One middleware
 * rather than a parser plus an error handler: every request walks each router layer, and most
 * requests (GET, DELETE) have no body and pass straight through.
 */
export function jsonBody(): RequestHandler {
  const parse = json({
    limit: BODY_LIMIT,
    type: isJsonRequest,
    // Measured on the raw bytes, before the parse builds a structure too deep to walk.
    verify: (_req, _res, raw) => assertJsonDepth(raw),
  });
  return (req, res, next) => {
    if (!hasBody(req)) return next();
    parse(req, res, (err?: unknown) =>
      err === undefined || err === null ? next() : next(codedBodyError(err)),
    );
  };
}
