import { createHash } from 'node:crypto'
import { isChannelName } from '../base/rules.js'
import { AppClient } from './app-client.js'
import { ChannelPatterns, type Grant, isChannelPattern, NOTHING } from './auth.js'

/** What the hub asks the app about a request that carries no valid JWT. */
export interface AuthQuestion {
  readonly action: 'subscribe' | 'publish'
  readonly channels: readonly string[]
  /** The clientId the request asked for, or null. */
  readonly clientId: string | null
  /** The client's address, as the hub counts it. */
  readonly address: string
  /** The request headers of `authForwardHeaders` that it carries. */
  readonly headers: Readonly<Record<string, string>>
}

/** The app's answer: a grant for `ttl` ms, a refusal, or none (slow, down, or an answer the hub cannot read). */
export type AuthAnswer =
  | { outcome: 'allowed', grant: Grant, ttl: number }
  | { outcome: 'refused', status: 401 | 403, message?: string }
  | { outcome: 'unavailable', reason: string }

export interface AuthCallbackOptions {
  url: string
  /** ms an answer may take; past it the request is refused for now. */
  timeout: number
}

/** How long an answer is kept when it says nothing: 60 s for a grant; a refusal, always 5 s. */
export const DEFAULT_GRANT_TTL = 60_000
export const REFUSAL_TTL = 5_000
/** Answers kept at most; past it the oldest goes. */
const MAX_CACHED = 50_000
/** Bytes of an answer read at most. */
const MAX_ANSWER = 64 * 1024

/** What the callback did, for the metrics. */
export interface AuthCallbackCounts {
  calls: Record<AuthAnswer['outcome'], number>
  /** Questions answered without a call: an answer kept, or a call out for the same question. */
  cacheHits: number
}

/**
 * Asks the app (`POST authUrl`) who may do what, for requests without a valid JWT. Answers are
 * kept per question (the credentials forwarded, the action, the channels, the clientId and the
 * address) for their `ttl`, refusals for 5 s; the same question asked while a call is out waits
 * for that call: a reconnect storm of one user's tabs makes one call. A call that fails, times out
 * or gets an answer the hub cannot read is `unavailable`, never a grant: the hub fails closed.
 * Calls go over connections of the callback's own, kept open between calls (`AppClient`).
 */
export class AuthCallback {
  private readonly cache = new Map<string, { answer: AuthAnswer, until: number }>()
  private readonly inFlight = new Map<string, Promise<AuthAnswer>>()
  /** The key of each question asked: a stream's renewal asks the same question object again. */
  private readonly keys = new WeakMap<AuthQuestion, string>()
  readonly counts: AuthCallbackCounts = { calls: { allowed: 0, refused: 0, unavailable: 0 }, cacheHits: 0 }
  /** Told of each call made, with how long it took, in seconds (for a histogram). */
  onCall: ((outcome: AuthAnswer['outcome'], seconds: number) => void) | undefined
  private readonly client: AppClient

  constructor (options: AuthCallbackOptions) {
    this.client = new AppClient({ url: options.url, timeout: options.timeout, maxBytes: MAX_ANSWER })
  }

  /**
   * The answer to `question`: kept, shared with a call out for the same question, or asked now.
   * A question is not changed once asked: asked again, it is known by the key it had.
   */
  ask (question: AuthQuestion): Promise<AuthAnswer> {
    let key = this.keys.get(question)
    if (key === undefined) this.keys.set(question, key = questionKey(question))
    const kept = this.cache.get(key)
    if (kept !== undefined && kept.until > Date.now()) {
      this.counts.cacheHits++
      return Promise.resolve(kept.answer)
    }
    let call = this.inFlight.get(key)
    if (call === undefined) {
      call = this.call(question).then((answer) => {
        this.inFlight.delete(key)
        this.keep(key, answer)
        return answer
      })
      this.inFlight.set(key, call)
    } else {
      this.counts.cacheHits++
    }
    return call
  }

  /** Closes the connections to the app; questions asked afterwards are `unavailable`. */
  close (): void {
    this.client.close()
  }

  private keep (key: string, answer: AuthAnswer): void {
    if (answer.outcome === 'unavailable') return
    this.cache.delete(key)
    this.cache.set(key, { answer, until: Date.now() + (answer.outcome === 'allowed' ? answer.ttl : REFUSAL_TTL) })
    if (this.cache.size > MAX_CACHED) this.cache.delete(this.cache.keys().next().value as string)
  }

  private async call (question: AuthQuestion): Promise<AuthAnswer> {
    const started = performance.now()
    let answer: AuthAnswer
    try {
      const response = await this.client.post(JSON.stringify(question))
      answer = readAnswer(response.status, response.text, question)
    } catch (err) {
      answer = { outcome: 'unavailable', reason: (err as Error).message }
    }
    this.counts.calls[answer.outcome]++
    this.onCall?.(answer.outcome, (performance.now() - started) / 1000)
    return answer
  }
}

/** A digest of the question: the cache holds no cookie or token in clear. */
function questionKey (question: AuthQuestion): string {
  const headers = Object.entries(question.headers).sort(([a], [b]) => a < b ? -1 : 1)
  const text = JSON.stringify([question.action, [...question.channels].sort(), question.clientId, question.address, headers])
  return createHash('sha256').update(text).digest('base64url')
}

/** The app's answer as the hub uses it; anything it cannot read is `unavailable`, naming why. */
function readAnswer (status: number, text: string, question: AuthQuestion): AuthAnswer {
  const body = parse(text)
  if (status === 401 || status === 403) {
    const message = (body as { message?: unknown } | undefined)?.message
    return { outcome: 'refused', status, message: typeof message === 'string' ? message.slice(0, 200) : undefined }
  }
  if (status !== 200) return { outcome: 'unavailable', reason: `the app answered ${status}` }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { outcome: 'unavailable', reason: 'the app\'s 200 is not a JSON object' }
  const { clientId, channels, presence, ttl } = body as Record<string, unknown>
  if (clientId !== undefined && !isChannelName(clientId)) return { outcome: 'unavailable', reason: 'the app\'s clientId is not a valid clientId' }
  if (channels !== undefined && (!Array.isArray(channels) || !channels.every(isChannelPattern))) {
    return { outcome: 'unavailable', reason: 'the app\'s channels are not a list of channel patterns' }
  }
  if (presence !== undefined && typeof presence !== 'boolean') return { outcome: 'unavailable', reason: 'the app\'s presence is not a boolean' }
  if (ttl !== undefined && (typeof ttl !== 'number' || !(ttl > 0) || ttl > 86_400)) return { outcome: 'unavailable', reason: 'the app\'s ttl is not a number of seconds in (0, 86400]' }
  const granted = new ChannelPatterns((channels as string[] | undefined) ?? question.channels)
  const ttlMs = ttl === undefined ? DEFAULT_GRANT_TTL : ttl * 1000
  return {
    outcome: 'allowed',
    ttl: ttlMs,
    grant: {
      subscribe: question.action === 'subscribe' ? granted : NOTHING,
      publish: question.action === 'publish' ? granted : NOTHING,
      presence: presence === true,
      sub: (clientId as string | undefined) ?? question.clientId ?? undefined,
      expiresAt: Date.now() + ttlMs
    }
  }
}

function parse (text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}
