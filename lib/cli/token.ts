import { createPublicKey } from 'node:crypto'
import { parseArgs } from 'node:util'
import { createSigner } from 'fast-jwt'
import { CHANNEL_PATTERN_RULE, isChannelPattern } from '../auth/auth.js'
import { configFromArgs, configFromEnv } from '../config/config.js'
import { ConfigError } from '../base/errors.js'
import { keyAlgorithms, privateKey, readPem } from '../auth/keys.js'
import { quote } from '../base/errors.js'
import { CHANNEL_NAME_RULE, isChannelName } from '../base/rules.js'

/** The environment variable of the signing key: the token tool's alone, the hub never reads it. */
export const PRIVATE_KEY_ENV = 'SSE_HUB_JWT_PRIVATE_KEY'

/** Hub options the tool reads too (flag or environment), so that it signs what the hub verifies. */
const HUB_FLAGS = ['jwt-secret', 'jwt-public-key', 'jwt-issuer', 'jwt-audience'] as const

const TTL_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 }

/** The text of `sse-hub token --help`. */
export function tokenHelpText (): string {
  return [
    'Usage: sse-hub token [--publish <patterns>] [--subscribe <patterns>] [--presence] [--ttl <time>] [--sub <clientId>]',
    '',
    'Prints a JWT for the hub, signed with the key the hub verifies, on stdout and nothing else.',
    `A pattern is ${CHANNEL_PATTERN_RULE}; give several comma-separated or repeat the flag.`,
    '',
    '  --publish <patterns>     may publish to these channels (hub.publish)',
    '  --subscribe <patterns>   may subscribe to these channels and read their lastEvent (hub.subscribe)',
    '  --presence               may read presence: /clients, /channels, /presence, presence=1 (hub.presence);',
    '                           who is where, not what is published: with subscribeAuth, /firehose also needs',
    '                           --subscribe \'*\', and /channels/<name> shows lastEvent only for channels --subscribe covers',
    '  --ttl <time>             lifetime: a number with s, m, h or d (default: 1h)',
    '  --sub <clientId>         the subject: a subscriber\'s clientId',
    '',
    'Key: HS256 with the hub\'s secret, or RS256/ES256 with the private key of the hub\'s public key.',
    `  --private-key <file>     PEM private key (or ${PRIVATE_KEY_ENV}, PEM text or file); only this tool reads it`,
    '  --jwt-secret <secret>    as the hub\'s (or SSE_HUB_JWT_SECRET)',
    '  --jwt-public-key <pem>   as the hub\'s (or SSE_HUB_JWT_PUBLIC_KEY): the private key is checked against it',
    '  --jwt-issuer <iss>       as the hub\'s (or SSE_HUB_JWT_ISSUER): set as iss',
    '  --jwt-audience <aud>     as the hub\'s (or SSE_HUB_JWT_AUDIENCE): set as aud'
  ].join('\n')
}

/** `--ttl`: `90`, `90s`, `15m`, `1h`, `30d` → seconds. */
export function ttlSeconds (text: string): number {
  const match = /^(\d+)([smhd]?)$/.exec(text.trim())
  const seconds = match === null ? 0 : Number(match[1]) * TTL_UNITS[match[2] === '' ? 's' : match[2]]
  if (!Number.isSafeInteger(seconds) || seconds <= 0) {
    throw new ConfigError(`invalid --ttl: ${quote(text)} is not a positive number with s, m, h or d`)
  }
  return seconds
}

function patterns (values: string[] | undefined, flag: string): string[] | undefined {
  if (values === undefined) return undefined
  const list = values.flatMap((value) => value.split(',')).map((pattern) => pattern.trim())
  for (const pattern of list) {
    if (!isChannelPattern(pattern)) throw new ConfigError(`invalid --${flag}: ${quote(pattern)} is not ${CHANNEL_PATTERN_RULE}`)
  }
  return list
}

/**
 * Mints a token from the command line of `sse-hub token` and the environment. Throws a
 * `ConfigError` naming the flag or variable at fault.
 */
export function mintToken (args: string[], env: NodeJS.ProcessEnv): string {
  let values
  try {
    values = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        publish: { type: 'string', multiple: true },
        subscribe: { type: 'string', multiple: true },
        presence: { type: 'boolean' },
        ttl: { type: 'string', default: '1h' },
        sub: { type: 'string' },
        'private-key': { type: 'string' },
        ...Object.fromEntries(HUB_FLAGS.map((flag) => [flag, { type: 'string' as const }]))
      }
    }).values as Record<string, string | string[] | boolean | undefined>
  } catch (err) {
    throw new ConfigError(`${(err as Error).message}; see sse-hub token --help`)
  }

  const hubArgs = HUB_FLAGS.flatMap((flag) => typeof values[flag] === 'string' ? [`--${flag}=${values[flag]}`] : [])
  const { jwtSecret, jwtPublicKey, jwtIssuer, jwtAudience } = { ...configFromEnv(env), ...configFromArgs(hubArgs).config }

  const hub = {
    publish: patterns(values.publish as string[] | undefined, 'publish'),
    subscribe: patterns(values.subscribe as string[] | undefined, 'subscribe'),
    presence: values.presence === true ? true : undefined
  }
  if (hub.publish === undefined && hub.subscribe === undefined && hub.presence === undefined) {
    throw new ConfigError('nothing to grant: give --publish, --subscribe and/or --presence')
  }
  const sub = values.sub as string | undefined
  if (sub !== undefined && !isChannelName(sub)) throw new ConfigError(`invalid --sub: ${quote(sub)} is not a valid clientId (${CHANNEL_NAME_RULE})`)

  const signing = signingKey(values['private-key'] as string | undefined, env, jwtSecret, jwtPublicKey)
  const sign = createSigner({
    key: signing.key,
    algorithm: signing.algorithm,
    expiresIn: ttlSeconds(values.ttl as string) * 1000,
    sub,
    iss: jwtIssuer,
    aud: jwtAudience
  })
  return sign({ hub })
}

/**
 * The key to sign with: a private key (`--private-key` or its variable) when given, which must
 * match one of the hub's public keys if they are configured too; else the hub's first secret
 * (the newest, while an older one is rotated out).
 */
function signingKey (flag: string | undefined, env: NodeJS.ProcessEnv, secrets?: readonly string[], publicKeys?: readonly string[]):
{ key: string, algorithm: 'HS256' | 'RS256' | 'ES256' | 'ES384' | 'ES512' } {
  const given = flag ?? (env[PRIVATE_KEY_ENV] === '' ? undefined : env[PRIVATE_KEY_ENV])
  if (given !== undefined) {
    const label = flag === undefined ? PRIVATE_KEY_ENV : '--private-key'
    const pem = readPem(given, label)
    const key = privateKey(pem, label)
    // RS256 for RSA (the hub accepts RS384/512 too), the curve's algorithm for EC.
    const algorithm = keyAlgorithms(key, label)[0] as 'RS256' | 'ES256' | 'ES384' | 'ES512'
    if (publicKeys !== undefined) {
      const der = (pemOrKey: Parameters<typeof createPublicKey>[0]) => createPublicKey(pemOrKey).export({ type: 'spki', format: 'der' })
      if (!publicKeys.some((publicKey) => der(key).equals(der(publicKey)))) {
        throw new ConfigError(`invalid ${label}: it is not the private key of ${publicKeys.length === 1 ? 'the hub\'s jwtPublicKey' : 'any of the hub\'s jwtPublicKey values'}, so the hub would refuse its tokens`)
      }
    }
    return { key: pem, algorithm }
  }
  if (secrets !== undefined) return { key: secrets[0], algorithm: 'HS256' }
  throw new ConfigError(`no key to sign with: give --private-key <file> (or ${PRIVATE_KEY_ENV}) for RS256/ES256, or --jwt-secret (or SSE_HUB_JWT_SECRET) for HS256`)
}

/**
 * `sse-hub token ...`: prints the token, or the help, or the error.
 * @returns the process's exit code
 */
export function runTokenCommand (args: string[], env: NodeJS.ProcessEnv): number {
  if (args.includes('--help') || args.includes('-h')) {
    console.log(tokenHelpText())
    return 0
  }
  try {
    console.log(mintToken(args, env))
    return 0
  } catch (err) {
    console.error(`sse-hub token: ${(err as Error).message}`)
    return 1
  }
}
