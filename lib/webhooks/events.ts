import type { PresenceChange } from '../registry/registry.js'

/** One event of a webhook request's `events` (API.md §12). */
export type WebhookEvent =
  | { id: string, type: 'client.joined' | 'client.left', time: string, clientId: string, channels: string[] }
  | { id: string, type: 'channel.occupied' | 'channel.vacated', time: string, channel: string }

/** A webhook event waiting to be sent, with what the queue orders and debounces it by. */
export interface QueuedEvent {
  readonly event: WebhookEvent
  /** `client:<clientId>` or `channel:<name>`: a leave is undone by the next return of the same subject. */
  readonly subject: string
  /** True for `client.joined` and `channel.occupied`. */
  readonly enter: boolean
  /** ms since the epoch, when the registry made the change. */
  readonly at: number
  /** The number of the registry change it comes from: where a sender resumes. */
  readonly seq: number
  /** Set when a return within the debounce undid it: never sent. */
  cancelled: boolean
}

/**
 * The webhook events of one presence change: the client's own (its first connection in, or its
 * last out) first, then one per channel it took from no subscriber to one or from one to none.
 * Ids are made of the change's time, number and place, so that a change read again (by another
 * node, after a failover) gives the same ids.
 */
export function eventsOf (change: PresenceChange, seq: number): QueuedEvent[] {
  const { join, clientId, whole, occupancy, at } = change
  const time = new Date(at).toISOString()
  const idOf = (i: number): string => `${at.toString(36)}-${seq.toString(36)}-${i}`
  const events: QueuedEvent[] = []
  if (whole) {
    const channels = [...(join ? change.channels : change.changed)].sort()
    events.push({ event: { id: idOf(0), type: join ? 'client.joined' : 'client.left', time, clientId, channels }, subject: `client:${clientId}`, enter: join, at, seq, cancelled: false })
  }
  for (const channel of occupancy) {
    const event: WebhookEvent = { id: idOf(events.length), type: join ? 'channel.occupied' : 'channel.vacated', time, channel }
    events.push({ event, subject: `channel:${channel}`, enter: join, at, seq, cancelled: false })
  }
  return events
}
