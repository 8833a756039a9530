import { Code, ConnectError } from '@connectrpc/connect';

const SANDBOX_ID = /^[A-Za-z0-9_-]{1,64}$/;
const USER = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$/;

type HeaderGet = (name: string) => string | null | undefined;

/** The sandbox an envd call is for: the SDK sends its id in `E2b-Sandbox-Id` on every call. */
export function sandboxIdOf(get: HeaderGet): string {
  const id = get('e2b-sandbox-id');
  if (!id) {
    throw new ConnectError(
      'the E2b-Sandbox-Id header is missing: set E2B_SANDBOX_URL (or sandboxUrl) to this server and use e2b >= 2.15',
      Code.InvalidArgument,
    );
  }
  if (!SANDBOX_ID.test(id)) throw new ConnectError(`sandbox ${id} not found`, Code.Unavailable);
  return id;
}

/** The user of `Authorization: Basic base64("<user>:")`, sent when the SDK call names one. */
export function userOf(get: HeaderGet): string | undefined {
  const header = get('authorization');
  if (!header?.startsWith('Basic ')) return undefined;
  const user = Buffer.from(header.slice(6), 'base64').toString('utf8').split(':')[0];
  return user ? checkedUser(user) : undefined;
}

/** A user name as the SDK may send it (Basic auth, `?username=`); anything else is refused. */
export function checkedUser(user: string): string {
  if (!USER.test(user)) throw new ConnectError(`invalid user '${user}'`, Code.InvalidArgument);
  return user;
}
