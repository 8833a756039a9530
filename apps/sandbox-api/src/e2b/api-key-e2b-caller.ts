import type { IncomingMessage } from 'node:http';
import { Injectable } from '@nestjs/common';
import { ApiKeyAuthenticator } from '@app/auth';
import type { Actor } from '@app/domain';
import { E2bCaller } from '@app/e2b';

/**
 * Who calls E2B's control plane: the key the SDK sends (`X-API-KEY`, or a Bearer token), through
 * the same authenticator as the API's guard, so the same keys, the same 401 and the same count of
 * failures per address hold there. A refusal is a coded error, which the listener answers in
 * E2B's `{code, message}` shape with WWW-Authenticate or Retry-After.
 */
@Injectable()
export class ApiKeyE2bCaller extends E2bCaller {
  constructor(private readonly authenticator: ApiKeyAuthenticator) {
    super();
  }

  actorOf(request: IncomingMessage): Promise<Actor> {
    return this.authenticator.authenticate(request.headers, request.socket.remoteAddress);
  }
}
