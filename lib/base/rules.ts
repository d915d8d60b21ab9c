/** 1..128 characters of A-Z a-z 0-9 _ - . : @ / */
export const CHANNEL_NAME = /^[A-Za-z0-9_\-.:@/]{1,128}$/
/** 1..64 characters of A-Z a-z 0-9 _ - . :, not starting with - . or : */
export const EVENT_TYPE = /^[A-Za-z0-9_][A-Za-z0-9_\-.:]{0,63}$/

export const CHANNEL_NAME_RULE = '1..128 characters of A-Z a-z 0-9 _ - . : @ /'
export const EVENT_TYPE_RULE = '1..64 characters of A-Z a-z 0-9 _ - . :, not starting with - . or :'

/** 1..128 visible ASCII characters (`!` to `~`): no spaces, no control characters. */
export const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,128}$/
export const IDEMPOTENCY_KEY_RULE = '1..128 visible ASCII characters, no spaces'

/** Event types the hub itself sends; a publisher may not use them. */
export const RESERVED_TYPES: ReadonlySet<string> = new Set(['registered', 'lastEvent', 'online-presence'])

/** A channel name, and a clientId, which uses the same alphabet. */
export function isChannelName (value: unknown): value is string {
  return typeof value === 'string' && CHANNEL_NAME.test(value)
}
