import { badChannelName, badClientId, badEvent, emptyChannelName, notAChannelName, notAnEventList, notAnEventType, quote, tooManyChannels, tooManyEvents } from './errors.js'
import { CHANNEL_NAME, EVENT_TYPE, isChannelName, RESERVED_TYPES } from './rules.js'

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

/**
 * Parses the `channels` list of a subscription: comma-separated, no empty items,
 * duplicates counted once, at most `max` distinct names.
 */
export function parseChannelList (list: string, max: number): string[] {
  const names = list.split(',')
  for (const name of names) {
    if (name === '') throw emptyChannelName(list)
    if (!CHANNEL_NAME.test(name)) throw badChannelName('channels', name)
  }
  const unique = names.length === 1 ? names : [...new Set(names)]
  if (unique.length > max) throw tooManyChannels(unique.length, max)
  return unique
}

/** A clientId uses the channel-name alphabet. */
export function checkClientId (clientId: string): string {
  if (!CHANNEL_NAME.test(clientId)) throw badClientId(clientId)
  return clientId
}

/**
 * Checks a whole publish batch before anything of it is accepted (all or nothing).
 * Works on untyped input, because an embedding app calls `hub.publish` without a schema in front.
 * The message names the index and the rule, e.g. `events/2/type: "registered" is reserved`.
 */
export function checkEvents (events: unknown, maxEvents: number): CheckedEvents {
  if (!Array.isArray(events)) throw notAnEventList()
  if (events.length > maxEvents) throw tooManyEvents(events.length, maxEvents)
  for (let i = 0; i < events.length; i++) checkEvent(events[i], i)
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
    if (!CHANNEL_NAME.test(channelName)) throw badEvent(i, 'channelName', notAChannelName(channelName))
    checkType(type, i)
  }
  return events as CheckedEvents
}

function checkType (type: string, index: number): void {
  if (!EVENT_TYPE.test(type)) throw badEvent(index, 'type', notAnEventType(type))
  if (RESERVED_TYPES.has(type)) throw badEvent(index, 'type', `${quote(type)} is reserved`)
}

function checkEvent (event: unknown, index: number): void {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    throw badEvent(index, undefined, 'must be an object with channelName, type and payload')
  }
  const { channelName, type, payload } = event as Record<string, unknown>
  if (channelName === undefined) throw badEvent(index, 'channelName', 'is required')
  if (!isChannelName(channelName)) throw badEvent(index, 'channelName', notAChannelName(channelName))
  if (type === undefined) throw badEvent(index, 'type', 'is required')
  if (typeof type !== 'string') throw badEvent(index, 'type', notAnEventType(type))
  checkType(type, index)
  if (payload === undefined) throw badEvent(index, 'payload', 'is required (null is a valid payload)')
}
