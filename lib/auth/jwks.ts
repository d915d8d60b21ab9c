import { createPublicKey, type JsonWebKey } from 'node:crypto'
import { createVerifier } from 'fast-jwt'
import type { Logger } from '../base/logger.js'

/** A verification of one JWT against one key: its claims, or a fast-jwt `TokenError`. */
export type Verify = (token: string) => Record<string, unknown>

/** The algorithms a key set may hold: asymmetric only, so that no published key is ever an HMAC secret. */
export type JwksAlgorithm = 'RS256' | 'RS384' | 'RS512' | 'ES256' | 'ES384' | 'ES512' | 'EdDSA'

/** One usable key of a set: the one algorithm it verifies, and its verifier. */
export interface JwksKey {
  algorithm: JwksAlgorithm
  verify: Verify
}

export interface JwksOptions {
  /** The issuer whose tokens these keys verify: a verifier checks `iss` is this. */
  issuer: string
  url: string
  /** Required `aud`, when the hub has one. */
  audience?: string
  logger?: Logger
  /** ms between two fetches for unknown kids. @default 30000 */
  unknownKidInterval?: number
  /** ms after which known keys are fetched again, in the background (after a failed fetch: `unknownKidInterval`). @default 300000 */
  refreshInterval?: number
  /** ms a fetch may take. @default 5000 */
  fetchTimeout?: number
}

/** RSA keys shorter than this are left out (RFC 7518 §3.3 asks for 2048 bits). */
const MIN_RSA_BITS = 2048

/** Bytes of a key set read at most: a real one is a few KiB. */
const MAX_BODY = 256 * 1024

const RSA_ALGORITHMS = new Set(['RS256', 'RS384', 'RS512'])
const CURVE_ALGORITHMS: Record<string, JwksAlgorithm> = { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512', Ed25519: 'EdDSA' }

/**
 * The keys an issuer publishes at its JWKS URL, by `kid`: fetched at start, again in the
 * background `refreshInterval` after the last fetch, and when a token names a `kid` the set does
 * not hold, at most once per `unknownKidInterval`. A failed fetch keeps the keys known so far, and
 * is tried again in the background `unknownKidInterval` later. The URL comes from the configuration only: nothing of a token ever makes one.
 */
export class JwksKeySet {
  private keys: KeySet = { named: new Map(), unnamed: [] }
  private fetching: Promise<void> | undefined
  private lastUnknownKidFetch = -Infinity
  private timer: NodeJS.Timeout | undefined
  private closed = false

  constructor (private readonly options: JwksOptions) {}

  /** The first fetch; resolves even when it fails (the set then starts empty and is fetched again later). */
  start (): Promise<void> {
    return this.refresh()
  }

  /** The key of `kid`; a token without `kid` gets the set's only key of its algorithm. */
  key (kid: string | undefined, algorithm: string): JwksKey | undefined {
    if (kid !== undefined) return this.keys.named.get(kid)
    const candidates = [...this.keys.named.values(), ...this.keys.unnamed].filter((key) => key.algorithm === algorithm)
    return candidates.length === 1 ? candidates[0] : undefined
  }

  /** The key of a `kid` not known yet, after one fetch, unless a fetch for an unknown kid ran less than `unknownKidInterval` ago. */
  async keyAfterRefresh (kid: string | undefined, algorithm: string): Promise<JwksKey | undefined> {
    const now = Date.now()
    if (now - this.lastUnknownKidFetch >= (this.options.unknownKidInterval ?? 30_000)) {
      this.lastUnknownKidFetch = now
      await this.refresh()
    } else if (this.fetching !== undefined) {
      await this.fetching
    }
    return this.key(kid, algorithm)
  }

  close (): void {
    this.closed = true
    clearTimeout(this.timer)
  }

  /** Fetches the set, one fetch at a time; concurrent callers share it. */
  private refresh (): Promise<void> {
    this.fetching ??= this.load().finally(() => { this.fetching = undefined })
    return this.fetching
  }

  private async load (): Promise<void> {
    const { url, logger } = this.options
    let next = this.options.refreshInterval ?? 300_000
    try {
      const keys = parseKeySet(await fetchBounded(url, this.options.fetchTimeout ?? 5000), this.options)
      this.keys = keys
      logger?.debug(`JWKS ${url}: ${size(keys)} keys`)
    } catch (err) {
      next = this.options.unknownKidInterval ?? 30_000
      logger?.warn(`JWKS ${url}: could not fetch the key set (${(err as Error).message}); the ${size(this.keys)} keys known so far stay in use, next try in ${next} ms`)
    }
    // The next background fetch counts from the last fetch, whoever asked for it.
    clearTimeout(this.timer)
    if (!this.closed) this.timer = setTimeout(() => { this.refresh().catch(() => {}) }, next).unref()
  }
}

/** GETs `url` and parses its JSON, refusing more than `MAX_BODY` bytes or more than `timeout` ms. */
async function fetchBounded (url: string, timeout: number): Promise<unknown> {
  const response = await fetch(url, { headers: { accept: 'application/json' }, redirect: 'error', signal: AbortSignal.timeout(timeout) })
  if (!response.ok) throw new Error(`HTTP ${response.status}`)
  const chunks: Uint8Array[] = []
  let size = 0
  for await (const chunk of response.body ?? []) {
    size += chunk.byteLength
    if (size > MAX_BODY) throw new Error(`larger than ${MAX_BODY} bytes`)
    chunks.push(chunk)
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8'))
}

/** The keys of a set: by `kid`, and those without one. */
interface KeySet {
  named: Map<string, JwksKey>
  unnamed: JwksKey[]
}

function size (keys: KeySet): number {
  return keys.named.size + keys.unnamed.length
}

/** The signing keys of a JWK set; keys it cannot use (HMAC secrets, encryption keys, unknown types, short RSA keys) are left out. */
function parseKeySet (body: unknown, options: JwksOptions): KeySet {
  const list = (body as { keys?: unknown } | null)?.keys
  if (!Array.isArray(list)) throw new Error('not a JWK set: no "keys" list')
  const keys: KeySet = { named: new Map(), unnamed: [] }
  for (const jwk of list as Array<JsonWebKey & { kid?: unknown, use?: unknown, alg?: unknown }>) {
    if (typeof jwk !== 'object' || jwk === null || (jwk.use !== undefined && jwk.use !== 'sig')) continue
    const algorithm = algorithmOf(jwk)
    if (algorithm === undefined) continue
    let pem
    try {
      const key = createPublicKey({ key: jwk, format: 'jwk' })
      if (key.asymmetricKeyType === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < MIN_RSA_BITS) continue
      pem = key.export({ type: 'spki', format: 'pem' }) as string
    } catch {
      continue
    }
    const verify = createVerifier({
      key: pem,
      algorithms: [algorithm],
      allowedIss: options.issuer,
      allowedAud: options.audience,
      requiredClaims: ['iss', ...(options.audience === undefined ? [] : ['aud'])],
      cache: true
    })
    if (typeof jwk.kid === 'string') keys.named.set(jwk.kid, { algorithm, verify })
    else keys.unnamed.push({ algorithm, verify })
  }
  return keys
}

/** The one algorithm a JWK verifies: its `alg` when it names one that fits its type, else the type's. */
function algorithmOf (jwk: JsonWebKey & { alg?: unknown }): JwksAlgorithm | undefined {
  if (jwk.kty === 'RSA') {
    if (jwk.alg === undefined) return 'RS256'
    return typeof jwk.alg === 'string' && RSA_ALGORITHMS.has(jwk.alg) ? jwk.alg as JwksAlgorithm : undefined
  }
  if (jwk.kty === 'EC' || jwk.kty === 'OKP') {
    const algorithm = CURVE_ALGORITHMS[jwk.crv ?? '']
    return jwk.alg === undefined || jwk.alg === algorithm ? algorithm : undefined
  }
  return undefined
}
