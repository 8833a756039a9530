import { json, NextFunction, Request, RequestHandler, Response } from 'express';
import { CodedError } from '@app/config';

export const BODY_LIMIT = '1mb';

/** body-parser marks its errors with a `type`; they are all client mistakes. */
interface BodyParserError extends Error {
  type: string;
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

function isBodyParserError(error: unknown): error is BodyParserError {
  return error instanceof Error && typeof (error as Partial<BodyParserError>).type === 'string';
}

/**
 * Parses JSON bodies up to 1 MiB and turns body-parser's failures into coded errors before Nest
 * sees them (Nest would otherwise flatten a syntax error into an anonymous 400).
 */
export function jsonBody(): [
  RequestHandler,
  (err: unknown, req: Request, res: Response, next: NextFunction) => void,
] {
  return [
    json({ limit: BODY_LIMIT, type: isJsonRequest }),
    (err, _req, _res, next) => {
      if (!isBodyParserError(err)) return next(err);
      switch (err.type) {
        case 'entity.too.large':
          return next(
            new CodedError('PAYLOAD_TOO_LARGE', `request body is larger than ${BODY_LIMIT}`),
          );
        case 'entity.parse.failed':
          return next(
            new CodedError('MALFORMED_JSON', `request body is not valid JSON: ${err.message}`),
          );
        default:
          return next(
            new CodedError('VALIDATION_FAILED', `request body was refused: ${err.message}`),
          );
      }
    },
  ];
}
