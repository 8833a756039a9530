import type { IncomingMessage } from 'node:http';
import { ANONYMOUS_ACTOR } from '@app/domain';
import type { Actor } from '@app/domain';

/**
 * Who sent a request to E2B's control plane (create, list, get, kill, pause, connect, timeout).
 * The control plane passes this actor to SandboxService, so a tenant's key reaches only its own
 * tenant's sandboxes there as on /v1 (another's is 404). The listener is plain node:http, outside
 * Nest's guards: this is its seam for authentication. An implementation reads the key the E2B SDK
 * sends (`X-API-KEY`) and throws an E2bApiError(401) to refuse a request (the app's
 * ApiKeyE2bCaller, which answers the anonymous caller when auth is off).
 */
export abstract class E2bCaller {
  abstract actorOf(request: IncomingMessage): Promise<Actor>;
}

/**
 * The actor of envd (data plane) calls: exec, files, filesystem. The E2B SDK presents no API key
 * to envd; a data-plane call names its sandbox (E2b-Sandbox-Id) and is let in by that sandbox's
 * envdAccessToken, which only the caller that created or connected to it was given. It reaches
 * that one sandbox, whoever's tenant it belongs to, as envd inside an E2B sandbox does.
 */
export const ENVD_ACTOR: Actor = ANONYMOUS_ACTOR;
