import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ApiKeyAuthenticator } from '@app/auth';
import { forwardRequest } from '@app/cluster';
import { CodedError, describeError, httpStatusOf, isCodedError } from '@app/domain';
import { SandboxRouting } from '@app/sandbox';

/** /v1/sandboxes/<ref>[/<more>]: the routes that name one sandbox. */
const SANDBOX_PATH = /^\/v1\/sandboxes\/([^/]+)(\/.*)?$/i;

export interface ForwardingDeps {
  authenticator: ApiKeyAuthenticator;
  routing: SandboxRouting;
  log: (message: string) => void;
}

/**
 * Cluster mode: a /v1 call about a sandbox on another node is passed to that node's instance and
 * its answer streamed back (exec output, file bodies), before this instance reads the body. Only
 * the record read (`GET /v1/sandboxes/:id`) is answered here: records are shared, so it works even
 * while the owner is down. A request this middleware cannot place (no key, an unknown sandbox, a
 * bad path) goes on to the routes, which answer it as on one host; a forwarded request is never
 * forwarded again.
 */
export function v1Forwarding(deps: ForwardingDeps): RequestHandler {
  return (req: Request, res: Response, next: NextFunction): void => {
    void forwardIfForeign(deps, req, res).then(
      (forwarded) => {
        if (!forwarded) next();
      },
      (error: unknown) => {
        if (res.headersSent) {
          res.destroy();
          return;
        }
        if (!isCodedError(error))
          deps.log(`forwarding ${req.method} ${req.path}: ${describeError(error)}`);
        replyError(res, error);
      },
    );
  };
}

async function forwardIfForeign(
  deps: ForwardingDeps,
  req: Request,
  res: Response,
): Promise<boolean> {
  const match = SANDBOX_PATH.exec(req.path);
  if (match === null) return false;
  if (req.method === 'GET' && match[2] === undefined) return false;
  if (deps.routing.isForwarded(req.headers)) return false;
  const actor = await deps.authenticator.peek(req.headers);
  if (actor === null) return false;
  let ref: string;
  try {
    ref = decodeURIComponent(match[1]);
  } catch {
    return false;
  }
  const owner = await deps.routing.ownerFor(actor, ref, 'api');
  if (owner === null) return false;
  await forwardRequest(
    req,
    res,
    owner,
    deps.routing.headersFor(actor),
    deps.routing.connectTimeoutMs,
  );
  return true;
}

/** The API's error shape (ErrorFilter's), for a failure before anything was forwarded. */
function replyError(res: Response, error: unknown): void {
  const coded = isCodedError(error)
    ? error
    : new CodedError(
        'NODE_UNAVAILABLE',
        'the call could not be passed to the node that holds the sandbox',
      );
  const statusCode = httpStatusOf(coded.code);
  res
    .status(statusCode)
    .json({ statusCode, code: coded.code, message: coded.message, details: coded.details });
}
