import type { IncomingMessage } from 'node:http';
import { readText } from '@app/cluster';
import type { ForwardTarget } from '@app/cluster';
import { CodedError } from '@app/domain';

/**
 * The ROCK envelope the owner answered a forwarded call with (ROCK answers every call with HTTP
 * 200 and a JSON envelope, so it is the whole answer); NODE_UNAVAILABLE when it answered anything
 * else (a proxy's error page, a cut body).
 */
export async function ownerEnvelope(
  response: IncomingMessage,
  owner: ForwardTarget,
): Promise<unknown> {
  const text = await readText(response);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new CodedError(
      'NODE_UNAVAILABLE',
      `the cluster node ${owner.name} answered HTTP ${response.statusCode} without a ROCK envelope`,
      { node: owner.name, status: response.statusCode },
    );
  }
}
