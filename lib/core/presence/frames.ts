import type { ClientPresence } from '../../registry/registry.js'
import { chunk } from '../../wire/sse.js'

/**
 * The SSE text of a presence frame, to be wrapped by `chunk` (lib/wire/sse.ts) alone or with others.
 * Presence frames carry no `id:`: they are not part of the event sequence, and must not move an
 * EventSource's resume position.
 */
function presenceText (event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`
}

/** `event: snapshot`, data `{"clients":[{"clientId","channels"}]}`. */
export function snapshotText (clients: readonly ClientPresence[]): string {
  return presenceText('snapshot', { clients })
}

/** `event: join`, data `{"clientId","channels"}`. */
export function joinText (clientId: string, channels: readonly string[]): string {
  return presenceText('join', { clientId, channels })
}

/** `event: leave`, data `{"clientId"}`. */
export function leaveText (clientId: string): string {
  return presenceText('leave', { clientId })
}

/** The compat `online-presence` frame: the list is a JSON *string* in `payload`, as in the original. */
export function onlinePresenceFrame (clientIds: readonly string[]): Buffer {
  return chunk(presenceText('online-presence', { type: 'online-presence', payload: JSON.stringify(clientIds) }))
}
