import { HubError } from './errors.js'
import { redactUrl } from './redact.js'

/** 1..128 characters of A-Z a-z 0-9 _ - . : @ / */
const CHANNEL_NAME = /^[A-Za-z0-9_\-.:@/]{1,128}$/
/** 1..64 characters of A-Z a-z 0-9 _ - . :, not starting with - . or : */
const EVENT_TYPE = /^[A-Za-z0-9_][A-Za-z0-9_\-.:]{0,63}$/

export const CHANNEL_NAME_RULE = '1..128 characters of A-Z a-z 0-9 _ - . : @ /'
export const EVENT_TYPE_RULE = '1..64 characters of A-Z a-z 0-9 _ - . :, not starting with - . or :'

/** Event types the hub itself sends; a publisher may not use them. */
export const RESERVED_TYPES: ReadonlySet<string> = new Set(['registered', 'lastEvent', 'online-presence'])

/** One event as a publisher sends it. */
export interface EventInput {
  channelName: string
  type: string
  /** Any JSON value, `null` included. */
  payload: unknown
}

declare const checked: unique symbol
/**
 * A batch that passed `checkEvents`, or the publish route's schema and then `checkEventNames`:
 * the hub publishes it without looking at it again.
 */
export type CheckedEvents = readonly EventInput[] & { readonly [checked]: true }

export function isChannelName (value: unknown): value is string {
  return typeof value === 'string' && CHANNEL_NAME.test(value)
}

/**
 * Shows a client's value in an error message, shortened so a huge input cannot bloat the reply,
 * and with any `token=` value in it redacted: a query like `?channels=a?token=...` puts a
 * credential into another parameter's value, and error messages are logged and sent back.
 */
export function quote (value: unknown): string {
  if (typeof value === 'string') value = redactUrl(value)
  if (typeof value === 'string' && value.length > 64) {
    return `${JSON.stringify(value.slice(0, 32))}... (${value.length} characters)`
  }
  const text = JSON.stringify(value) ?? String(value)
  return text.length > 80 ? `${text.slice(0, 77)}...` : text
}

/**
 * Parses the `channels` list of a subscription: comma-separated, no empty items,
 * duplicates counted once, at most `max` distinct names.
 */
export function parseChannelList (list: string, max: number): string[] {
  const names = list.split(',')
  for (const name of names) {
    if (name === '') {
      throw new HubError(400, 'SSE_HUB_BAD_CHANNELS', `channels: empty channel name in ${quote(list)}`)
    }
    if (!CHANNEL_NAME.test(name)) {
      throw new HubError(400, 'SSE_HUB_BAD_CHANNELS', `channels: ${quote(name)} is not a valid channel name (${CHANNEL_NAME_RULE})`)
    }
  }
  const unique = [...new Set(names)]
  if (unique.length > max) {
    throw new HubError(400, 'SSE_HUB_TOO_MANY_CHANNELS', `channels: ${unique.length} channels requested, at most ${max} allowed`)
  }
  return unique
}

/** A clientId uses the channel-name alphabet. */
export function checkClientId (clientId: string): string {
  if (!CHANNEL_NAME.test(clientId)) {
    throw new HubError(400, 'SSE_HUB_BAD_CLIENT_ID', `clientId: ${quote(clientId)} is not a valid clientId (${CHANNEL_NAME_RULE})`)
  }
  return clientId
}

/**
 * Checks a whole publish batch before anything of it is accepted (all or nothing).
 * Works on untyped input, because an embedding app calls `hub.publish` without a schema in front.
 * The message names the index and the rule, e.g. `events/2/type: "registered" is reserved`.
 */
export function checkEvents (events: unknown, maxEvents: number): CheckedEvents {
  if (!Array.isArray(events)) {
    throw new HubError(400, 'SSE_HUB_BAD_EVENT', 'events: must be an array of events')
  }
  if (events.length > maxEvents) {
    throw new HubError(400, 'SSE_HUB_TOO_MANY_EVENTS', `events: ${events.length} events in one publish, at most ${maxEvents} allowed`)
  }
  for (let i = 0; i < events.length; i++) {
    const problem = eventProblem(events[i])
    if (problem !== undefined) {
      throw new HubError(400, 'SSE_HUB_BAD_EVENT', `events/${i}${problem}`)
    }
  }
  return events as unknown as CheckedEvents
}

/**
 * What a schema cannot say about a batch it accepted (an array of at most the limit of events,
 * each with a string channelName and type and a payload): the alphabets and the reserved types,
 * with the messages of `checkEvents`.
 */
export function checkEventNames (events: readonly EventInput[]): CheckedEvents {
  for (let i = 0; i < events.length; i++) {
    const { channelName, type } = events[i]
    const problem = !CHANNEL_NAME.test(channelName) ? badChannelName(channelName) : typeProblem(type)
    if (problem !== undefined) {
      throw new HubError(400, 'SSE_HUB_BAD_EVENT', `events/${i}${problem}`)
    }
  }
  return events as CheckedEvents
}

function badChannelName (channelName: unknown): string {
  return `/channelName: ${quote(channelName)} is not a valid channel name (${CHANNEL_NAME_RULE})`
}

function typeProblem (type: string): string | undefined {
  if (!EVENT_TYPE.test(type)) return `/type: ${quote(type)} is not a valid event type (${EVENT_TYPE_RULE})`
  if (RESERVED_TYPES.has(type)) return `/type: ${quote(type)} is reserved`
  return undefined
}

function eventProblem (event: unknown): string | undefined {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    return ': must be an object with channelName, type and payload'
  }
  const { channelName, type } = event as Record<string, unknown>
  if (channelName === undefined) return '/channelName: is required'
  if (!isChannelName(channelName)) return badChannelName(channelName)
  if (type === undefined) return '/type: is required'
  if (typeof type !== 'string') return `/type: ${quote(type)} is not a valid event type (${EVENT_TYPE_RULE})`
  const problem = typeProblem(type)
  if (problem !== undefined) return problem
  if ((event as Record<string, unknown>).payload === undefined) return '/payload: is required (null is a valid payload)'
  return undefined
}
