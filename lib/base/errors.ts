import { redactUrl } from './redact.js'
import { CHANNEL_NAME_RULE, EVENT_TYPE_RULE, IDEMPOTENCY_KEY_RULE } from './rules.js'

/**
 * An error a client caused, with the HTTP status it maps to and a stable `code`.
 * The message names the offending value, since it is returned to the client as is.
 * Made by the factories below, one per rule, so that each rule has one message.
 */
export class HubError extends Error {
  readonly statusCode: number
  readonly code: string

  constructor (statusCode: number, code: string, message: string) {
    super(message)
    this.name = 'HubError'
    this.statusCode = statusCode
    this.code = code
  }
}

/** Invalid configuration: the message names the option as the user spelled it. */
export class ConfigError extends Error {
  readonly code = 'SSE_HUB_BAD_CONFIG'

  constructor (message: string) {
    super(message)
    this.name = 'ConfigError'
  }
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

/** The words of the channel-name rule for `value`, e.g. `"a b" is not a valid channel name (...)`. */
export function notAChannelName (value: unknown): string {
  return `${quote(value)} is not a valid channel name (${CHANNEL_NAME_RULE})`
}

/** The words of the clientId rule (the channel-name alphabet) for `value`. */
export function notAClientId (value: unknown): string {
  return `${quote(value)} is not a valid clientId (${CHANNEL_NAME_RULE})`
}

/** The words of the event-type rule for `value`. */
export function notAnEventType (value: unknown): string {
  return `${quote(value)} is not a valid event type (${EVENT_TYPE_RULE})`
}

// 400: the request is malformed.

/** A channel name (of the parameter `label`) breaks the rule. */
export const badChannelName = (label: string, name: unknown): HubError =>
  new HubError(400, 'SSE_HUB_BAD_CHANNELS', `${label}: ${notAChannelName(name)}`)

export const emptyChannelName = (list: string): HubError =>
  new HubError(400, 'SSE_HUB_BAD_CHANNELS', `channels: empty channel name in ${quote(list)}`)

export const tooManyChannels = (count: number, max: number): HubError =>
  new HubError(400, 'SSE_HUB_TOO_MANY_CHANNELS', `channels: ${count} channels requested, at most ${max} allowed`)

export const badClientId = (clientId: unknown): HubError =>
  new HubError(400, 'SSE_HUB_BAD_CLIENT_ID', `clientId: ${notAClientId(clientId)}`)

export const badPresenceFlag = (value: unknown): HubError =>
  new HubError(400, 'SSE_HUB_BAD_PRESENCE', `presence: ${quote(value)} is not 1, true, 0 or false`)

/** Event `index` of a batch (its `field`, when one is to blame) breaks a rule, e.g. `events/2/type: "registered" is reserved`. */
export const badEvent = (index: number, field: string | undefined, problem: string): HubError =>
  new HubError(400, 'SSE_HUB_BAD_EVENT', `events/${index}${field === undefined ? '' : `/${field}`}: ${problem}`)

export const notAnEventList = (): HubError =>
  new HubError(400, 'SSE_HUB_BAD_EVENT', 'events: must be an array of events')

export const tooManyEvents = (count: number, max: number): HubError =>
  new HubError(400, 'SSE_HUB_TOO_MANY_EVENTS', `events: ${count} events in one publish, at most ${max} allowed`)

export const badLimit = (value: unknown, max: number): HubError =>
  new HubError(400, 'SSE_HUB_BAD_LIMIT', `limit: ${quote(value)} is not an integer from 1 to ${max}`)

export const badCursor = (cursor: unknown): HubError =>
  new HubError(400, 'SSE_HUB_BAD_CURSOR', `cursor: ${quote(cursor)} is not a cursor of a previous page`)

export const repeatedParameter = (name: string): HubError =>
  new HubError(400, 'SSE_HUB_REPEATED_PARAMETER', `${name}: given more than once`)

/** The body is empty (`reason` undefined) or not JSON. */
export const badJson = (reason?: string): HubError =>
  new HubError(400, 'SSE_HUB_BAD_JSON', reason === undefined ? 'body: empty; expected a JSON object' : `body: not valid JSON (${reason})`)

export const badIdempotencyKey = (value: unknown): HubError =>
  new HubError(400, 'SSE_HUB_BAD_IDEMPOTENCY_KEY', `Idempotency-Key: ${quote(value)} is not a valid key (${IDEMPOTENCY_KEY_RULE})`)

export const notPreflight = (): HubError =>
  new HubError(400, 'SSE_HUB_NOT_PREFLIGHT', 'OPTIONS: only CORS preflight requests are answered, with Origin and Access-Control-Request-Method headers')

// 401, 403: who may do what.

/** No token where one is needed; `hint` says which. */
export const noToken = (hint?: string): HubError =>
  new HubError(401, 'SSE_HUB_NO_TOKEN', hint === undefined ? 'token: missing' : `token: missing; ${hint}`)

/** A token that is not valid: `problem` says why, never repeating the token or a value from it. */
export const badToken = (problem: string): HubError =>
  new HubError(401, 'SSE_HUB_BAD_TOKEN', `token: ${problem}`)

const forbidden = (what: string, why: string): HubError =>
  new HubError(403, 'SSE_HUB_FORBIDDEN', `${what}: the token does not allow ${why}`)

/** The grant lacks `hub.presence`; `asked` says how a request that is no presence read asked for it. */
export const presenceNotGranted = (asked?: string): HubError =>
  forbidden('presence', `presence reads (hub.presence)${asked === undefined ? '' : `, which ${asked} is`}`)

export const firehoseNotGranted = (): HubError =>
  forbidden('firehose', 'reading every channel (a JWT needs hub.subscribe ["*"] and hub.presence)')

export const publishNotGranted = (index: number, channelName: string): HubError =>
  forbidden(`events/${index}/channelName`, `publishing to ${quote(channelName)}`)

export const subscribeNotGranted = (channelName: string): HubError =>
  forbidden('channels', `subscribing to ${quote(channelName)}`)

/** The app (`authUrl`) said no: its status, and its message when it gave one. */
export const authRefused = (status: 401 | 403, message: string | undefined): HubError =>
  new HubError(status, status === 401 ? 'SSE_HUB_UNAUTHORIZED' : 'SSE_HUB_FORBIDDEN', `authorization: refused by the app${message === undefined ? '' : `: ${message}`}`)

// 404, 422, 429, 503.

export const noClient = (clientId: string): HubError =>
  new HubError(404, 'SSE_HUB_NO_CLIENT', `clientId: ${quote(clientId)} is not connected`)

/** A key already used, within `windowMs`, for a publish of other events: a key stands for one publish. */
export const idempotencyKeyReused = (key: string, windowMs: number): HubError =>
  new HubError(422, 'SSE_HUB_IDEMPOTENCY_KEY_REUSED', `Idempotency-Key: ${quote(key)} was used in the last ${windowMs / 1000} s for a publish of other events; a retry sends the same body, another publish takes a new key`)

export const rateLimited = (what: string, perSecond: number, retryInSeconds: string): HubError =>
  new HubError(429, 'SSE_HUB_RATE_LIMITED', `${what}: more than ${perSecond} per second from this address; retry in ${retryInSeconds} s`)

/** `authUrl` gave no answer the hub can use: it fails closed. */
export const authUnavailable = (reason: string): HubError =>
  new HubError(503, 'SSE_HUB_AUTH_UNAVAILABLE', `authorization: the app could not be asked (${reason}); retry later`)

/** Redis failed a request of `part` (`broker`, `presence`): the client should retry later. */
export const brokerDown = (part: string, problem: string): HubError =>
  new HubError(503, 'SSE_HUB_BROKER_DOWN', `${part}: ${problem}; retry later`)

// TLS files (`tlsCert`, `tlsKey`): at start a ConfigError names the option; on a reload the error is logged.

/** A certificate or key file that cannot be used; `option` says which of the two. */
export class CertificateError extends Error {
  readonly code = 'SSE_HUB_BAD_CERTIFICATE'

  constructor (readonly option: 'tlsCert' | 'tlsKey', message: string) {
    super(message)
    this.name = 'CertificateError'
  }
}

export const unreadableTlsFile = (option: 'tlsCert' | 'tlsKey', path: string, reason: string): CertificateError =>
  new CertificateError(option, `cannot read ${path}: ${reason}`)

export const notPem = (option: 'tlsCert' | 'tlsKey', path: string): CertificateError =>
  new CertificateError(option, `${path} holds no PEM ${option === 'tlsCert' ? 'certificate' : 'private key'}`)

export const keyMismatch = (certPath: string, keyPath: string): CertificateError =>
  new CertificateError('tlsKey', `${keyPath} is not the private key of the certificate in ${certPath}`)
