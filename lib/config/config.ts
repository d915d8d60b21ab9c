import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { parseArgs } from 'node:util'
import { type Static, type TSchema, Type } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { ConfigError } from '../base/errors.js'
import { publicKeyPem } from '../auth/keys.js'
import { DEFAULT_MAX_RETAINED_CHANNELS } from '../broker/broker.js'
import { readCertificate } from '../wire/tls.js'

/** Open files kept free for listening sockets, logs and outgoing connections. */
export const FILE_RESERVE = 256

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

/**
 * Every option of the hub, in one schema: its type, range, default, environment variable (`env`)
 * and help text; `secret` marks those whose value no error message may echo. The CLI flag is the
 * kebab-case name (`heartbeatInterval` → `--heartbeat-interval`). `maxConnections` has no static
 * default: it follows the open-file limit (see `defaultMaxConnections`).
 */
export const HubConfigSchema = Type.Object({
  port: Type.Integer({ minimum: 0, maximum: 65535, default: 9090, env: 'PORT', description: 'TCP port to listen on (server only)' }),
  host: Type.String({ minLength: 1, default: '0.0.0.0', env: 'HOST', description: 'address to listen on (server only)' }),
  corsOrigins: Type.String({ minLength: 1, default: '*', env: 'SSE_HUB_CORS_ORIGINS', description: 'allowed CORS origins, comma-separated, or *' }),
  publishToken: Type.Optional(Type.String({ minLength: 16, maxLength: 1024, secret: true, rotating: true, env: 'SSE_HUB_PUBLISH_TOKEN', description: 'static token (16+ characters) for publishing and presence reads, sent as Bearer; several, comma-separated, to rotate it' })),
  jwtSecret: Type.Optional(Type.String({ minLength: 32, secret: true, rotating: true, env: 'SSE_HUB_JWT_SECRET', description: 'secret (32+ characters) that HS256 JWTs are verified with; several, comma-separated, to rotate it (sse-hub token signs with the first)' })),
  jwtPublicKey: Type.Optional(Type.String({ minLength: 1, rotating: true, env: 'SSE_HUB_JWT_PUBLIC_KEY', description: 'RSA or EC public key, PEM text or file, that RS256/ES256 JWTs are verified with; several, comma-separated, to rotate it' })),
  jwksUrl: Type.Optional(Type.Record(Type.String({ minLength: 1 }), Type.String({ pattern: '^https?://[^\\s]+$' }), { minProperties: 1, env: 'SSE_HUB_JWKS_URL', description: 'JWK sets, by the issuer whose tokens their keys verify: issuer=url pairs, comma-separated (a plugin option: {issuer: url})' })),
  authUrl: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$', env: 'SSE_HUB_AUTH_URL', description: 'the app\'s authorization endpoint: a subscribe without a valid JWT (a publish too, with authPublish) is allowed only if a POST there answers 200' })),
  authForwardHeaders: Type.String({ minLength: 1, default: 'cookie,authorization', env: 'SSE_HUB_AUTH_FORWARD_HEADERS', description: 'request headers sent on to authUrl, comma-separated' }),
  authTimeout: Type.Integer({ minimum: 1, default: 2000, env: 'SSE_HUB_AUTH_TIMEOUT', description: 'ms authUrl may take to answer; past it the request is refused for now' }),
  authPublish: Type.Boolean({ default: false, env: 'SSE_HUB_AUTH_PUBLISH', description: 'a publish without a valid token asks authUrl too' }),
  webhookUrl: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$', env: 'SSE_HUB_WEBHOOK_URL', description: 'where presence webhooks are POSTed (client.joined, client.left, channel.occupied, channel.vacated), signed with webhookSecret' })),
  webhookSecret: Type.Optional(Type.String({ minLength: 16, maxLength: 1024, secret: true, env: 'SSE_HUB_WEBHOOK_SECRET', description: 'secret (16+ characters) that each webhook request is signed with (X-SSE-Hub-Signature, HMAC-SHA256); needs webhookUrl' })),
  webhookDebounce: Type.Integer({ minimum: 0, default: 3000, env: 'SSE_HUB_WEBHOOK_DEBOUNCE', description: 'ms a leave waits before it is sent: a client or channel back within it sends neither event' }),
  webhookRetryFor: Type.Integer({ minimum: 0, default: 3600000, env: 'SSE_HUB_WEBHOOK_RETRY_FOR', description: 'ms a failed webhook request is tried again (after 1 s, doubling up to 5 min) before its events are dropped' }),
  jwtIssuer: Type.Optional(Type.String({ minLength: 1, env: 'SSE_HUB_JWT_ISSUER', description: 'JWTs must carry this iss' })),
  jwtAudience: Type.Optional(Type.String({ minLength: 1, env: 'SSE_HUB_JWT_AUDIENCE', description: 'JWTs must carry this aud' })),
  subscribeAuth: Type.Boolean({ default: false, env: 'SSE_HUB_SUBSCRIBE_AUTH', description: 'subscribing and /lastEvent need a JWT that covers the channels (always on with authUrl, which may allow them instead)' }),
  insecure: Type.Boolean({ default: false, env: 'SSE_HUB_INSECURE', description: 'publishing and presence reads need no token (a warning at start)' }),
  dashboard: Type.Boolean({ default: true, env: 'SSE_HUB_DASHBOARD', description: 'serve the dashboard page at GET / (false: an embedding app keeps its own GET /)' }),
  metricsToken: Type.Optional(Type.String({ minLength: 16, maxLength: 1024, secret: true, env: 'SSE_HUB_METRICS_TOKEN', description: 'token (16+ characters) that GET /metrics needs, sent as Bearer' })),
  connectRateLimit: Type.Integer({ minimum: 0, default: 0, env: 'SSE_HUB_CONNECT_RATE_LIMIT', description: 'new streams per client address per second, refused with retry: above (0: no limit)' }),
  publishRateLimit: Type.Integer({ minimum: 0, default: 0, env: 'SSE_HUB_PUBLISH_RATE_LIMIT', description: 'publishes per client address per second, 429 above (0: no limit)' }),
  heartbeatInterval: Type.Integer({ minimum: 100, default: 15000, env: 'SSE_HUB_HEARTBEAT_INTERVAL', description: 'ms of silence before a stream gets a comment line' }),
  retry: Type.Integer({ minimum: 0, default: 2000, env: 'SSE_HUB_RETRY', description: 'reconnection delay (ms) sent to EventSource clients' }),
  historySize: Type.Integer({ minimum: 0, default: 1000, env: 'SSE_HUB_HISTORY_SIZE', description: 'events kept per channel for resume' }),
  historyTtl: Type.Integer({ minimum: 0, default: 3600000, env: 'SSE_HUB_HISTORY_TTL', description: 'ms an event is kept for resume (0: no age limit)' }),
  maxConnections: Type.Integer({ minimum: 1, env: 'SSE_HUB_MAX_CONNECTIONS', description: 'open streams per process' }),
  maxChannelsPerSubscription: Type.Integer({ minimum: 1, default: 64, env: 'SSE_HUB_MAX_CHANNELS', description: 'channels one subscribe may ask for' }),
  maxEventsPerPublish: Type.Integer({ minimum: 1, default: 1000, env: 'SSE_HUB_MAX_EVENTS', description: 'events one publish may carry' }),
  bodyLimit: Type.Integer({ minimum: 1, default: 102400, env: 'SSE_HUB_BODY_LIMIT', description: 'bytes of a publish body (413 above)' }),
  maxBufferedBytes: Type.Integer({ minimum: 1, default: 1048576, env: 'SSE_HUB_MAX_BUFFERED_BYTES', description: 'unsent bytes above which a stream is behind: cut after slowClientTimeout, at once past 16 times this' }),
  slowClientTimeout: Type.Integer({ minimum: 0, default: 5000, env: 'SSE_HUB_SLOW_CLIENT_TIMEOUT', description: 'ms a stream may stay above maxBufferedBytes before it is cut' }),
  presenceInterval: Type.Integer({ minimum: 10, default: 1000, env: 'SSE_HUB_PRESENCE_INTERVAL', description: 'ms between two online-presence updates; changes in between are merged' }),
  presenceTtl: Type.Integer({ minimum: 300, default: 15000, env: 'SSE_HUB_PRESENCE_TTL', description: 'cluster mode: ms within which the clients of a node that died leave; each node renews its lease every third of it' }),
  maxRetainedChannels: Type.Integer({ minimum: 1, default: DEFAULT_MAX_RETAINED_CHANNELS, env: 'SSE_HUB_MAX_RETAINED_CHANNELS', description: 'channels that keep a last event and history; past it the least recently published one without subscribers is forgotten' }),
  idempotencyWindow: Type.Integer({ minimum: 0, default: 300000, env: 'SSE_HUB_IDEMPOTENCY_WINDOW', description: 'ms a publish\'s Idempotency-Key is kept: a retry with it within that time gets the first reply and publishes nothing (0: the header is ignored)' }),
  maxIdempotencyKeys: Type.Integer({ minimum: 1, default: 100000, env: 'SSE_HUB_MAX_IDEMPOTENCY_KEYS', description: 'memory mode: Idempotency-Keys kept at most; past it the oldest is forgotten before its window ends (in cluster mode Redis keeps them)' }),
  headersTimeout: Type.Integer({ minimum: 1, default: 10000, env: 'SSE_HUB_HEADERS_TIMEOUT', description: 'ms for a request\'s headers to arrive, cut after (server only)' }),
  requestTimeout: Type.Integer({ minimum: 1, default: 30000, env: 'SSE_HUB_REQUEST_TIMEOUT', description: 'ms for a whole request, body included, to arrive, cut after; streams are exempt once they started (server only)' }),
  maxConnectionsPerAddress: Type.Integer({ minimum: 0, default: 0, env: 'SSE_HUB_MAX_CONNECTIONS_PER_ADDRESS', description: 'open TCP connections per client address, closed at once above (0: no limit; server only)' }),
  tlsCert: Type.Optional(Type.String({ minLength: 1, env: 'SSE_HUB_TLS_CERT', description: 'path of the PEM certificate (chain): HTTPS with HTTP/2 and HTTP/1.1, reloaded on SIGHUP or when the file changes; needs tlsKey (server only)' })),
  tlsKey: Type.Optional(Type.String({ minLength: 1, env: 'SSE_HUB_TLS_KEY', description: 'path of the PEM private key of tlsCert (server only)' })),
  trustProxy: Type.Optional(Type.String({ minLength: 1, env: 'SSE_HUB_TRUST_PROXY', description: 'addresses or CIDR ranges of the proxies in front (comma-separated): the X-Forwarded-For they send gives the client address for logs and the rate limits (server only)' })),
  shutdownDelay: Type.Integer({ minimum: 0, default: 0, env: 'SSE_HUB_SHUTDOWN_DELAY', description: 'ms between SIGTERM (health turns 503) and the stop of the server' }),
  redisUrl: Type.Optional(Type.String({ minLength: 1, pattern: '^rediss?://', secret: true, env: 'REDIS_URL', description: 'cluster mode: events, history and last events in this Redis (redis:// or rediss://), shared by every node' })),
  redisPrefix: Type.String({ minLength: 1, default: 'sse-hub:', env: 'SSE_HUB_REDIS_PREFIX', description: 'start of every Redis key, so several hubs can share one Redis' }),
  logLevel: Type.Union(LOG_LEVELS.map((level) => Type.Literal(level)), { default: 'info', env: 'LOG_LEVEL', description: LOG_LEVELS.join(', ') })
})

/**
 * The options that take several values, so that a secret or key can be rotated with an overlap:
 * every value verifies. A plugin option takes one value or a list; the environment and flags take
 * a comma-separated list.
 */
type RotatingOption = 'publishToken' | 'jwtSecret' | 'jwtPublicKey'

/** The resolved configuration: every option present and checked; a rotating option as the list of its values. */
export type HubConfig = Omit<Static<typeof HubConfigSchema>, RotatingOption> & { [option in RotatingOption]?: string[] }
/** What a user may pass: any subset of the options. */
export type HubConfigInput = Partial<Omit<Static<typeof HubConfigSchema>, RotatingOption>> & { [option in RotatingOption]?: string | string[] }
type OptionName = keyof HubConfig

const OPTION_NAMES = Object.keys(HubConfigSchema.properties) as OptionName[]

/** Values a rotating option holds at most: a rotation needs two. */
const MAX_ROTATING_VALUES = 8

/** `heartbeatInterval` → `heartbeat-interval` */
export function flagName (option: string): string {
  return option.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)
}

/** The `env` and `description` every option schema carries, `secret` and `rotating` on some. */
function describe (option: OptionName): TSchema & { env: string, description: string, secret?: true, rotating?: true } {
  return HubConfigSchema.properties[option] as unknown as TSchema & { env: string, description: string, secret?: true, rotating?: true }
}

function envName (option: OptionName): string {
  return describe(option).env
}

/** Where the user gave an option: a flag, an environment variable, or an option of the plugin. */
export type OptionSource = 'flag' | 'env' | 'option'

/** The option as a user of that source spells it: `--jwt-secret`, `SSE_HUB_JWT_SECRET`, `jwtSecret`. */
export function spelled (option: OptionName, source: OptionSource): string {
  return source === 'flag' ? `--${flagName(option)}` : source === 'env' ? envName(option) : option
}

/** Checks beyond the schema, for options whose value must be read: a public key's PEM is loaded (from a file if need be) and parsed. */
const REFINE: Partial<Record<OptionName, (value: string, label: string) => string>> = {
  jwtPublicKey: publicKeyPem
}

/** Options given as text that read into something else than a number or a boolean. */
const PARSE: Partial<Record<OptionName, (text: string, label: string) => unknown>> = {
  jwksUrl: issuerUrls
}

/** `issuer=url,issuer=url` → `{issuer: url}`; an issuer ends at the first `=` that an http(s) URL follows. */
function issuerUrls (text: string, label: string): Record<string, string> {
  const pairs: Record<string, string> = {}
  for (const pair of text.split(',').map((part) => part.trim())) {
    const match = /^(.+?)=(https?:\/\/.*)$/.exec(pair)
    if (match === null) throw new ConfigError(`invalid ${label}: ${JSON.stringify(pair)} is not issuer=url (the URL starting with http:// or https://)`)
    pairs[match[1]] = match[2]
  }
  return pairs
}

/** What `--help` shows for options without a static default. */
const DEFAULT_TEXT: Partial<Record<OptionName, () => string>> = {
  maxConnections: () => `the open-file limit less ${FILE_RESERVE}, ${defaultMaxConnections()} here`,
  metricsToken: () => 'none, /metrics is open',
  publishToken: () => 'generated at start and logged once, unless a JWT key or insecure is set'
}

/**
 * Checks one option, converting a string (from the environment or a flag) to the option's type.
 * @param label the option as the user spelled it, for the error message
 * @param fromText given as text (the environment, a flag): a rotating option's values are comma-separated
 */
function checkOption (option: OptionName, value: unknown, label: string, fromText = false): unknown {
  return describe(option).rotating === true ? checkValues(option, value, label, fromText) : checkValue(option, value, label)
}

/** Checks one value of an option (of a rotating one, each of its values). */
function checkValue (option: OptionName, value: unknown, label: string): unknown {
  const schema = HubConfigSchema.properties[option]
  const converted = typeof value === 'string' ? PARSE[option]?.(value, label) ?? fromString(schema, value) : value
  if (Value.Check(schema, converted)) return REFINE[option]?.(converted as string, label) ?? converted
  const error = Value.Errors(schema, converted).First()
  // A secret's value stays out of the message, which ends up in terminals and logs.
  const got = describe(option).secret === true && typeof value === 'string' ? `${value.length} characters (not shown: the value is secret)` : JSON.stringify(value)
  throw new ConfigError(`invalid ${label}: ${error?.message ?? 'invalid value'}, got ${got}`)
}

/**
 * Checks each value of a rotating option: one value, a list, or (from the environment or a flag)
 * a comma-separated list. An error names the value by its place when there are several.
 */
function checkValues (option: OptionName, value: unknown, label: string, fromText: boolean): string[] {
  const values = Array.isArray(value) ? value as unknown[] : fromText && typeof value === 'string' ? value.split(',').map((part) => part.trim()) : [value]
  if (values.length === 0 || values.length > MAX_ROTATING_VALUES) {
    throw new ConfigError(`invalid ${label}: expected 1 to ${MAX_ROTATING_VALUES} values, got ${values.length}`)
  }
  return values.map((one, index) => checkValue(option, one, values.length === 1 ? label : `${label} (value ${index + 1} of ${values.length})`) as string)
}

/**
 * Reads an option given as text. Strict on purpose: "1.5" or "1e3" for an integer stays a string
 * and fails the check, instead of being truncated to 1.
 */
function fromString (schema: TSchema, text: string): unknown {
  if (schema.type === 'integer' && /^-?\d+$/.test(text.trim())) return Number(text)
  if (schema.type === 'boolean' && /^(true|1|false|0)$/.test(text)) return text === 'true' || text === '1'
  return text
}

/**
 * Fills in the defaults and checks every option. Options Fastify itself passes to a plugin
 * (`prefix`, `logLevel`, ...) are allowed; any other unknown name is an error, so that a typo
 * does not silently fall back to a default.
 * @param sources where each option came from, so that an error names it as the user spelled it
 *   (an option not listed is a plugin option)
 */
export function resolveConfig (input: Record<string, unknown> = {}, sources: Partial<Record<string, OptionSource>> = {}): HubConfig {
  const ignored = new Set(['prefix', 'logSerializers'])
  for (const key of Object.keys(input)) {
    if (!OPTION_NAMES.includes(key as OptionName) && !ignored.has(key)) {
      throw new ConfigError(`unknown option ${JSON.stringify(key)}; known options: ${OPTION_NAMES.join(', ')}`)
    }
  }
  const source = (option: OptionName): OptionSource => sources[option] ?? 'option'
  const label = (option: OptionName): string => source(option) === 'option' ? `option ${option}` : spelled(option, source(option))
  const config: Record<string, unknown> = {}
  for (const option of OPTION_NAMES) {
    const given = input[option]
    const schema = HubConfigSchema.properties[option]
    config[option] = given === undefined ? schema.default : checkOption(option, given, label(option))
  }
  config.maxConnections ??= defaultMaxConnections()
  // The app decides who subscribes: subscribing needs its yes, or a valid JWT.
  if (config.authUrl !== undefined) config.subscribeAuth = true
  else if (config.subscribeAuth === true && config.jwtSecret === undefined && config.jwtPublicKey === undefined && config.jwksUrl === undefined) {
    // An option the user did not give is named the way they gave the one in error.
    const [secret, key, jwks] = (['jwtSecret', 'jwtPublicKey', 'jwksUrl'] as const).map((other) => spelled(other, source('subscribeAuth')))
    throw new ConfigError(`invalid ${label('subscribeAuth')}: it needs ${secret}, ${key} or ${jwks} to verify subscriber tokens`)
  }
  if (config.headersTimeout as number > (config.requestTimeout as number)) {
    const requestTimeout = spelled('requestTimeout', sources.requestTimeout ?? source('headersTimeout'))
    throw new ConfigError(`invalid ${label('headersTimeout')}: ${String(config.headersTimeout)} ms is longer than ${requestTimeout} (${String(config.requestTimeout)} ms), which covers the headers too`)
  }
  const origins = (config.corsOrigins as string).split(',').map((origin) => origin.trim())
  if (origins.includes('*') && origins.length > 1) {
    throw new ConfigError(`invalid ${label('corsOrigins')}: * cannot stand in a list of origins; give * alone (no cookies cross origins: browsers never send credentials to *) or only the origins whose pages may send the sse_hub_token cookie`)
  }
  if ((config.webhookUrl === undefined) !== (config.webhookSecret === undefined)) {
    const [given, missing] = (config.webhookUrl === undefined ? ['webhookSecret', 'webhookUrl'] : ['webhookUrl', 'webhookSecret']) as [OptionName, OptionName]
    throw new ConfigError(`invalid ${label(given)}: it needs ${spelled(missing, source(given))} too (webhooks are signed, so that the receiver can tell they come from the hub)`)
  }
  checkTls(config, label, source)
  const badProxy = proxyList(config.trustProxy as string | undefined).find((entry) => !isAddressOrRange(entry))
  if (badProxy !== undefined) {
    throw new ConfigError(`invalid ${label('trustProxy')}: ${JSON.stringify(badProxy)} is not an IP address or a CIDR range (such as 10.0.0.0/8)`)
  }
  return config as HubConfig
}

/** `tlsCert` and `tlsKey` come together, and name a readable certificate and its key. */
function checkTls (config: Record<string, unknown>, label: (option: OptionName) => string, source: (option: OptionName) => OptionSource): void {
  const [cert, key] = [config.tlsCert as string | undefined, config.tlsKey as string | undefined]
  if (cert === undefined && key === undefined) return
  if (cert === undefined || key === undefined) {
    const [given, missing] = (cert === undefined ? ['tlsKey', 'tlsCert'] : ['tlsCert', 'tlsKey']) as [OptionName, OptionName]
    throw new ConfigError(`invalid ${label(given)}: it needs ${spelled(missing, source(given))} too (the certificate and its private key)`)
  }
  try {
    readCertificate(cert, key)
  } catch (err) {
    const option = (err as { option?: OptionName }).option ?? 'tlsCert'
    throw new ConfigError(`invalid ${label(option)}: ${(err as Error).message}`)
  }
}

/** The entries of `trustProxy`: `10.0.0.1, 10.1.0.0/16` → two. */
export function proxyList (trustProxy: string | undefined): string[] {
  return trustProxy === undefined ? [] : trustProxy.split(',').map((entry) => entry.trim())
}

function isAddressOrRange (entry: string): boolean {
  const [address, bits, ...rest] = entry.split('/')
  const version = isIP(address)
  if (version === 0 || rest.length > 0) return false
  return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (version === 4 ? 32 : 128))
}

/** Options from `PORT`, `SSE_HUB_*`, ...: only those set, converted and checked. */
export function configFromEnv (env: NodeJS.ProcessEnv): Partial<HubConfig> {
  const config: Record<string, unknown> = {}
  for (const option of OPTION_NAMES) {
    const value = env[envName(option)]
    if (value !== undefined && value !== '') config[option] = checkOption(option, value, envName(option), true)
  }
  return config
}

/** The flags of the boolean options → their option. */
const BOOLEAN_FLAGS = new Map(OPTION_NAMES.filter((option) => HubConfigSchema.properties[option].type === 'boolean').map((option) => [flagName(option), option]))

/**
 * Options from command-line flags (`--heartbeat-interval 5000` or `--heartbeat-interval=5000`).
 * A boolean option is a bare flag (`--insecure`), `--flag=true|false|1|0` or `--no-flag`; a
 * negative number may follow its flag (`--retry -1`, refused then for its range).
 * @returns the options, and whether `--help`/`-h` or `--version`/`-v` was given
 */
export function configFromArgs (args: string[]): { help: boolean, version: boolean, config: Partial<HubConfig> } {
  const booleans: Record<string, boolean> = {}
  const rest: string[] = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]
    const match = /^--(no-)?([a-z-]+)(?:=(.*))?$/s.exec(arg)
    const option = match === null ? undefined : BOOLEAN_FLAGS.get(match[2])
    if (arg === '--') {
      rest.push(...args.slice(i))
      break
    } else if (match !== null && option !== undefined) {
      booleans[option] = booleanFlag(match[2], match[1] !== undefined, match[3])
    } else if (/^--[a-z-]+$/.test(arg) && /^-\d/.test(args[i + 1] ?? '')) {
      // parseArgs takes a value that starts with a dash for a flag of its own.
      rest.push(`${arg}=${args[++i]}`)
    } else {
      rest.push(arg)
    }
  }
  const flags = Object.fromEntries(OPTION_NAMES.map((option) => [flagName(option), { type: 'string' as const }]))
  let parsed
  try {
    parsed = parseArgs({ args: rest, options: { ...flags, help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'v' } }, strict: true, allowPositionals: false })
  } catch (err) {
    throw new ConfigError(`${(err as Error).message}; see --help`)
  }
  const values: Record<string, string | boolean | undefined> = parsed.values
  const config: Record<string, unknown> = { ...booleans }
  for (const option of OPTION_NAMES) {
    const value = values[flagName(option)]
    if (typeof value === 'string') config[option] = checkOption(option, value, `--${flagName(option)}`, true)
  }
  return { help: values.help === true, version: values.version === true, config }
}

/** `--insecure` → true, `--insecure=false` → false, `--no-insecure` → false. */
function booleanFlag (flag: string, negated: boolean, value: string | undefined): boolean {
  if (negated && value !== undefined) throw new ConfigError(`invalid --no-${flag}: it takes no value; use --${flag}=false or --no-${flag}`)
  if (value === undefined) return !negated
  const bool = /^(true|1)$/.test(value) ? true : /^(false|0)$/.test(value) ? false : undefined
  if (bool === undefined) throw new ConfigError(`invalid --${flag}: must be true or false (or 1 or 0), got ${JSON.stringify(value)}`)
  return bool
}

/** The text of `sse-hub --help`, generated from the schema. */
export function helpText (): string {
  const rows = OPTION_NAMES.map((option) => {
    const schema = describe(option)
    const fallback = DEFAULT_TEXT[option]?.() ?? (schema.default === undefined ? 'none' : JSON.stringify(schema.default))
    return `  --${flagName(option).padEnd(32)} ${schema.env.padEnd(36)} ${schema.description} (default: ${fallback})`
  })
  return [
    'Usage: sse-hub [options]',
    '       sse-hub token [token options]   prints a signed JWT for publishers and subscribers (sse-hub token --help)',
    '',
    'Starts the SSE pub/sub hub. Each option can also be set by its environment variable;',
    'a flag wins over the environment. A boolean option is a bare flag (--insecure), takes',
    'true or false (--dashboard=false) or is turned off by --no-<flag> (--no-dashboard).',
    '',
    `  ${'flag'.padEnd(34)} ${'environment'.padEnd(36)} meaning`,
    ...rows,
    `  --${'help'.padEnd(32)} ${''.padEnd(36)} show this text`,
    `  --${'version'.padEnd(32)} ${''.padEnd(36)} show the version`
  ].join('\n')
}

/** The process's open-file limit (soft), read from /proc; undefined where that is not available. */
export function openFileLimit (): number | undefined {
  try {
    const limits = readFileSync('/proc/self/limits', 'utf8')
    const match = /^Max open files\s+(\d+|unlimited)/m.exec(limits)
    if (match === null || match[1] === 'unlimited') return undefined
    return Number(match[1])
  } catch {
    return undefined
  }
}

/**
 * Streams a process can hold without failing on EMFILE: the open-file limit less a reserve for
 * everything else. Without a readable limit, 10,000.
 */
export function defaultMaxConnections (): number {
  const limit = openFileLimit()
  return limit === undefined ? 10000 : Math.max(1, limit - FILE_RESERVE)
}
