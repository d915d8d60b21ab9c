/**
 * What a subscriber of the auth scenarios (A1, A2) carries on its subscribe: a JWT signed for it,
 * or a session cookie that the bench's app (auth-app.ts) knows. A credential travels to the load
 * generator's threads as this plain description; each thread makes the header of each of its
 * subscribers before the connects start.
 */
import { mintToken } from '../lib/cli/token.js'

/**
 * - `jwt`: `Authorization: Bearer <JWT>` signed with `secret` (HS256, 1 h) as `sse-hub token`
 *   signs it: subscriber i gets `--sub user-<i> --subscribe <its channel>`; shared, every
 *   subscriber the same token, without `sub`, for every channel of the run.
 * - `cookie`: `Cookie: session=s-<i>`; shared, every subscriber `session=s-shared`.
 */
export type Credential =
  | { kind: 'jwt', secret: string, shared: boolean }
  | { kind: 'cookie', shared: boolean }

/** The cookie the bench's app reads its session from. */
export const SESSION_COOKIE = 'session'
/** The session of every subscriber when they share one. */
export const SHARED_SESSION = 's-shared'

/** The session of subscriber `index`. */
export function sessionId (index: number): string {
  return `s-${index}`
}

/** A request header: its name in lower case and its value. */
export interface Header { name: string, value: string }

/**
 * The header subscriber `index` sends for `credential`, on channel `channel` of a run whose
 * channels start with `channelPrefix`.
 */
export function credentialHeader (credential: Credential, index: number, channel: string, channelPrefix: string): Header {
  if (credential.kind === 'cookie') {
    return { name: 'cookie', value: `${SESSION_COOKIE}=${credential.shared ? SHARED_SESSION : sessionId(index)}` }
  }
  const args = credential.shared
    ? ['--subscribe', `${channelPrefix}*`]
    : ['--subscribe', channel, '--sub', `user-${index}`]
  return { name: 'authorization', value: `Bearer ${mintToken([...args, '--ttl', '1h', '--jwt-secret', credential.secret], {})}` }
}
