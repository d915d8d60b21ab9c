import { createHash, createPublicKey, randomBytes, timingSafeEqual } from 'node:crypto'
import { Type } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { createVerifier, TokenError } from 'fast-jwt'
import { badToken, noToken } from '../base/errors.js'
import type { Logger } from '../base/logger.js'
import { type JwksKey, JwksKeySet, type Verify } from './jwks.js'
import { HMAC_ALGORITHMS, keyAlgorithms } from './keys.js'
import { CHANNEL_NAME_RULE } from '../base/rules.js'

/** A channel pattern: a channel name, a prefix (possibly empty) ending in `*`, or `*` alone. */
const CHANNEL_PATTERN = /^(?:[A-Za-z0-9_\-.:@/]{0,127}\*|[A-Za-z0-9_\-.:@/]{1,128})$/

export const CHANNEL_PATTERN_RULE = `a channel name (${CHANNEL_NAME_RULE}), a prefix ending in *, or *`

/** The cookie a browser may carry its subscriber token in. */
export const TOKEN_COOKIE = 'sse_hub_token'

/** Longer tokens are refused unread: no JWT this hub issues comes near, and hashing costs. */
export const MAX_TOKEN_LENGTH = 8192

export function isChannelPattern (value: unknown): value is string {
  return typeof value === 'string' && CHANNEL_PATTERN.test(value)
}

/** A set of channel patterns, compiled for the checks of a publish, subscribe or lastEvent. */
export class ChannelPatterns {
  /** True when `*` is among them: every channel is covered. */
  readonly all: boolean
  private readonly exact = new Set<string>()
  private readonly prefixes: string[] = []

  constructor (patterns: readonly string[]) {
    for (const pattern of patterns) {
      if (pattern.endsWith('*')) this.prefixes.push(pattern.slice(0, -1))
      else this.exact.add(pattern)
    }
    this.all = this.prefixes.includes('')
  }

  covers (channel: string): boolean {
    if (this.all || this.exact.has(channel)) return true
    for (const prefix of this.prefixes) if (channel.startsWith(prefix)) return true
    return false
  }

  /** The first channel these patterns do not cover, or undefined when they cover all. */
  firstUncovered (channels: Iterable<string>): string | undefined {
    if (this.all) return undefined
    for (const channel of channels) if (!this.covers(channel)) return channel
    return undefined
  }
}

/** What a request may do: from the static token (everything but subscribing), a JWT, or `insecure`. */
export interface Grant {
  publish: ChannelPatterns
  subscribe: ChannelPatterns
  presence: boolean
  /** The JWT's `sub`: a subscriber's clientId (checked where it is used as one). */
  sub?: string
  /** When the JWT expires (its `exp`), in ms since the epoch: a subscriber's stream ends then; undefined for a token without `exp`. */
  expiresAt?: number
}

const EVERYTHING = new ChannelPatterns(['*'])
/** No channel: what a grant without a list allows. */
export const NOTHING = new ChannelPatterns([])

/** The grant of the static publish token, and of every request on an `insecure` hub. */
export const FULL_GRANT: Grant = Object.freeze({ publish: EVERYTHING, subscribe: EVERYTHING, presence: true })

/** The claim `hub` of a token. Absent lists grant nothing. */
export const HubClaimSchema = Type.Object({
  publish: Type.Optional(Type.Array(Type.String({ pattern: CHANNEL_PATTERN.source }), { maxItems: 256 })),
  subscribe: Type.Optional(Type.Array(Type.String({ pattern: CHANNEL_PATTERN.source }), { maxItems: 256 })),
  presence: Type.Optional(Type.Boolean())
})

/** A random publish token: 32 bytes, base64url. */
export function generateToken (): string {
  return randomBytes(32).toString('base64url')
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken (authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined
  const match = /^Bearer +([^\s]+) *$/i.exec(authorization)
  return match === null ? undefined : match[1]
}

/** The value of one cookie of a `Cookie` header (RFC 6265: `a=1; b=2`), or undefined. */
export function cookieValue (header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue
    let value = part.slice(eq + 1).trim()
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1)
    try {
      return decodeURIComponent(value)
    } catch {
      return value
    }
  }
  return undefined
}

function digest (text: string): Buffer {
  return createHash('sha256').update(text).digest()
}

/**
 * A check of a static secret, such as `metricsToken`, compared in constant time (as digests, so
 * that the length of the secret does not show either).
 */
export function secretMatcher (secret: string): (token: string | undefined) => boolean {
  const expected = digest(secret)
  return (token) => token !== undefined && token.length <= MAX_TOKEN_LENGTH && timingSafeEqual(digest(token), expected)
}

/** The options the authenticator reads, as `HubConfigSchema` documents and checks them. */
export interface AuthOptions {
  /** Every value is accepted: several while one is rotated. */
  publishToken?: readonly string[]
  jwtSecret?: readonly string[]
  /** PEM texts (config resolution has already read file paths). */
  jwtPublicKey?: readonly string[]
  jwtIssuer?: string
  jwtAudience?: string
  /** issuer → the URL of its JWK set: a token whose `iss` is one of these is verified with that set's keys only. */
  jwksUrl?: Readonly<Record<string, string>>
  /** For the key sets' fetch failures. */
  logger?: Logger
}

/** Why fast-jwt refused a token, in the words of a 401 message. */
const TOKEN_PROBLEMS: Partial<Record<string, string>> = {
  [TokenError.codes.expired]: 'has expired',
  [TokenError.codes.inactive]: 'is not valid yet (nbf)',
  [TokenError.codes.invalidSignature]: 'has an invalid signature',
  [TokenError.codes.missingSignature]: 'has no signature',
  [TokenError.codes.invalidAlgorithm]: 'is signed with an algorithm this hub does not accept',
  [TokenError.codes.invalidClaimValue]: 'has the wrong issuer or audience',
  [TokenError.codes.missingRequiredClaim]: 'lacks a required claim',
  [TokenError.codes.invalidClaimType]: 'has a claim of the wrong type'
}

/**
 * Checks credentials: the static publish tokens (compared in constant time) and JWTs signed with a
 * configured secret (HS256/384/512) or public key (RS256/384/512 for RSA, the curve's ES algorithm
 * for EC). A token's `alg` picks the keys to try, and an algorithm is only ever checked with keys
 * of its family: an HMAC token is never verified against a public key (the RS256→HS256 confusion),
 * and `alg: none` is never accepted. Several secrets, keys or tokens all verify, so that one can be
 * rotated with an overlap; a JWT is tried against each key of its algorithm until one signature holds.
 */
export class Authenticator {
  private readonly staticDigests: Buffer[]
  private readonly verifiers = new Map<string, Verify[]>()
  private readonly keySets = new Map<string, JwksKeySet>()

  constructor (options: AuthOptions) {
    this.staticDigests = (options.publishToken ?? []).map(digest)
    const claims = {
      allowedIss: options.jwtIssuer,
      allowedAud: options.jwtAudience,
      requiredClaims: [...(options.jwtIssuer === undefined ? [] : ['iss']), ...(options.jwtAudience === undefined ? [] : ['aud'])],
      // Verified tokens are kept (LRU, within their validity): a subscriber reconnecting does not cost a signature check.
      cache: true
    }
    const add = (algorithms: readonly string[], verify: Verify): void => {
      for (const algorithm of algorithms) this.verifiers.set(algorithm, [...this.verifiers.get(algorithm) ?? [], verify])
    }
    for (const secret of options.jwtSecret ?? []) {
      add(HMAC_ALGORITHMS, createVerifier({ key: secret, algorithms: [...HMAC_ALGORITHMS], ...claims }))
    }
    for (const [index, pem] of (options.jwtPublicKey ?? []).entries()) {
      const algorithms = keyAlgorithms(createPublicKey(pem), `option jwtPublicKey (value ${index + 1})`)
      add(algorithms, createVerifier({ key: pem, algorithms: [...algorithms], ...claims }))
    }
    for (const [issuer, url] of Object.entries(options.jwksUrl ?? {})) {
      this.keySets.set(issuer, new JwksKeySet({ issuer, url, audience: options.jwtAudience, logger: options.logger }))
    }
  }

  /** Fetches the JWK sets a first time; a set that cannot be fetched starts empty (its tokens are 401 until it can). */
  async start (): Promise<void> {
    await Promise.all([...this.keySets.values()].map((set) => set.start()))
  }

  /** Stops the background refreshes of the JWK sets. */
  close (): void {
    for (const set of this.keySets.values()) set.close()
  }

  /**
   * The grant of a token: everything but subscribing for a static token (when `acceptStatic`),
   * else the `hub` claim of a valid JWT. Throws (or rejects with) a 401 `HubError` for a missing
   * or invalid token; its message never repeats the token nor anything of an unverified one. A
   * promise only when a JWK set must be fetched first (a `kid` it does not know yet).
   */
  authenticate (token: string | undefined, acceptStatic: boolean): Grant | Promise<Grant> {
    if (token === undefined || token === '') throw noToken()
    if (token.length > MAX_TOKEN_LENGTH) throw badToken(`longer than ${MAX_TOKEN_LENGTH} characters`)
    if (acceptStatic && this.isStaticToken(token)) return FULL_GRANT
    const header = tokenHeader(token)
    if (header === undefined) throw badToken('is neither the publish token nor a well-formed JWT')
    const algorithm = header.alg
    const keySet = this.keySets.size === 0 ? undefined : this.keySets.get(unverifiedIssuer(token) ?? '')
    if (keySet !== undefined) {
      const key = keySet.key(header.kid, algorithm)
      if (key !== undefined) return verifyWithKey(key, algorithm, token)
      return keySet.keyAfterRefresh(header.kid, algorithm).then((fetched) => {
        if (fetched === undefined) throw badToken('is signed with a key its issuer does not publish')
        return verifyWithKey(fetched, algorithm, token)
      })
    }
    const verifiers = this.verifiers.get(algorithm)
    if (verifiers === undefined) {
      // The alg is the client's to write, and the message is sent back and logged: it names only what the hub accepts.
      const accepted = [...this.verifiers.keys()]
      throw badToken(`${TOKEN_PROBLEMS[TokenError.codes.invalidAlgorithm]} (${accepted.length === 0 ? 'no JWT key is configured' : `it accepts ${accepted.join(', ')}`})`)
    }
    return grantOf(verifyWithAny(verifiers, token))
  }

  /** Whether `token` is one of the static tokens; every one is compared, so the time says nothing of which. */
  private isStaticToken (token: string): boolean {
    if (this.staticDigests.length === 0) return false
    const given = digest(token)
    let found = false
    for (const expected of this.staticDigests) found = timingSafeEqual(given, expected) || found
    return found
  }
}

/** The grant of a JWT verified with a key of its issuer's set, whose algorithm must be the token's. */
function verifyWithKey (key: JwksKey, algorithm: string, token: string): Grant {
  if (key.algorithm !== algorithm) throw badToken(`${TOKEN_PROBLEMS[TokenError.codes.invalidAlgorithm]} with its key`)
  return grantOf(verifyWithAny([key.verify], token))
}

/** The claims of a JWT verified by the first of `verifiers` whose key signed it; a 401 naming the problem otherwise. */
function verifyWithAny (verifiers: readonly Verify[], token: string): Record<string, unknown> {
  let problem: string | undefined
  for (const verify of verifiers) {
    try {
      return verify(token)
    } catch (err) {
      const code = err instanceof TokenError ? err.code : undefined
      problem = (code === undefined ? undefined : TOKEN_PROBLEMS[code]) ?? 'is not a valid JWT'
      // Another key may have signed it; any other problem (expired, wrong issuer) is the token's own.
      if (code !== TokenError.codes.invalidSignature) break
    }
  }
  throw badToken(problem ?? 'is not a valid JWT')
}

/** The `alg` (and `kid`) of a JWT's header, read without trusting anything else in it; undefined if unreadable. */
function tokenHeader (token: string): { alg: string, kid?: string } | undefined {
  const dot = token.indexOf('.')
  if (dot <= 0) return undefined
  const header = decodePart(token.slice(0, dot)) as { alg?: unknown, kid?: unknown } | undefined
  if (typeof header?.alg !== 'string') return undefined
  return { alg: header.alg, kid: typeof header.kid === 'string' ? header.kid : undefined }
}

/** The `iss` of a JWT's payload, unverified: it only picks the key set that will verify the token, whose verifier checks `iss` again. */
function unverifiedIssuer (token: string): string | undefined {
  const start = token.indexOf('.') + 1
  const end = token.indexOf('.', start)
  if (start === 0 || end < 0) return undefined
  const iss = (decodePart(token.slice(start, end)) as { iss?: unknown } | undefined)?.iss
  return typeof iss === 'string' ? iss : undefined
}

function decodePart (part: string): unknown {
  try {
    return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'))
  } catch {
    return undefined
  }
}

function grantOf (payload: Record<string, unknown>): Grant {
  const claim = payload.hub ?? {}
  if (!Value.Check(HubClaimSchema, claim)) {
    const error = Value.Errors(HubClaimSchema, claim).First()
    const where = error === undefined || error.path === '' ? '' : error.path.replace(/^\//, '.').replaceAll('/', '.')
    throw badToken(`claim hub${where} is malformed: expected {"publish":[patterns],"subscribe":[patterns],"presence":true}, each pattern ${CHANNEL_PATTERN_RULE}`)
  }
  return {
    publish: claim.publish === undefined ? NOTHING : new ChannelPatterns(claim.publish),
    subscribe: claim.subscribe === undefined ? NOTHING : new ChannelPatterns(claim.subscribe),
    presence: claim.presence === true,
    sub: typeof payload.sub === 'string' ? payload.sub : undefined,
    // fast-jwt has checked that `exp`, when present, is a number in the future.
    expiresAt: typeof payload.exp === 'number' ? payload.exp * 1000 : undefined
  }
}
