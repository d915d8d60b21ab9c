import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { AuthCallback, type AuthQuestion } from '../lib/auth/callback.js'
import { Authenticator, bearerToken, cookieValue, type Grant, generateToken, secretMatcher, TOKEN_COOKIE } from '../lib/auth/auth.js'
import type { HubConfig } from '../lib/config/config.js'
import { authRefused, authUnavailable, badToken, firehoseNotGranted, type HubError, noToken, notAClientId, presenceNotGranted, publishNotGranted, rateLimited, subscribeNotGranted } from '../lib/base/errors.js'
import { isChannelName } from '../lib/base/rules.js'
import { STREAMS } from '../lib/core/hub.js'
import type { Refusal } from '../lib/core/streams.js'
import { presenceFlag } from '../lib/core/presence.js'
import type { PublishBody, SubscribeQuery } from '../lib/core/schemas.js'
import { RateLimiter } from '../lib/auth/rate-limit.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * What a hub route exposes, for the one access check of the hub's routes:
     * - `publish`: `POST /publish`, needs the publish token or a JWT whose `hub.publish` covers every
     *   channel of the batch; counted against `publishRateLimit`;
     * - `subscribe`: `/subscribe`; with `subscribeAuth`, a JWT whose `hub.subscribe` covers every
     *   channel of `query.channels` (and `hub.presence` for `presence=1`);
     * - `lastEvent`: `/lastEvent`; with `subscribeAuth`, the same grant for `query.channel`;
     * - `presence`: the presence reads (`/clients`, `/channels`, `/presence`) and the operator's
     *   reads (`/firehose`, `/stats`), need the publish token or a JWT with `hub.presence`; a
     *   payload in their answer is the route's to withhold (`hubMayRead`) or `payloads`' to refuse.
     * - `metrics`: `GET /metrics`, needs `metricsToken` as a Bearer token when one is set.
     * - `session`: `POST /session`, needs a JWT as a Bearer token (never the static token, which has
     *   no place in a browser); the route reads when it expires (`hubTokenExpiresAt`).
     * Routes without it (`/health`, the dashboard page) are open.
     */
    access?: 'publish' | 'subscribe' | 'lastEvent' | 'presence' | 'metrics' | 'session'
    /**
     * `all`: a presence read that streams the payloads of every channel (`/firehose`). With
     * `subscribeAuth` it also needs a grant that covers every channel: the publish token, or a
     * JWT whose `hub.subscribe` holds `*`; payloads go only to who may subscribe to their channel.
     */
    payloads?: 'all'
  }

  interface FastifyRequest {
    /** The clientId a subscriber's token gives it (its `sub`, or a generated one); only with `subscribeAuth`. */
    hubClientId?: string
    /**
     * When the request's token expires, ms since the epoch (a JWT's `exp`, the end of an `authUrl`
     * answer's `ttl`): a subscriber's stream ends then, and `POST /session`'s cookie lasts no longer.
     */
    hubTokenExpiresAt?: number
    /** A stream granted by the app (`authUrl`): asks the app again when the grant runs out (see `StreamExpiry`). */
    hubRenewGrant?: () => Promise<number | undefined>
    /** A subscribe the access check turns away for now (`authUrl` unavailable): the stream answers with `retry:`. */
    hubRefusal?: Refusal
    /**
     * Whose Idempotency-Keys a publish uses: the `sub` of its grant (a JWT's, or the one the app's
     * answer gives); undefined for the static token, an `insecure` hub and a grant without one, which share their keys.
     */
    hubPublisher?: string
  }

  interface FastifyInstance {
    /** Whether a new stream from the request's address is within `connectRateLimit` (always, when it is 0). */
    hubAdmitsStream (request: FastifyRequest): boolean
    /** True when the hub runs `insecure`: publishing and presence reads need no token (the dashboard then asks for none). */
    hubInsecure: boolean
    /**
     * Whether a request that passed the access check may be shown `channel`'s payloads: always
     * without `subscribeAuth` (anyone may subscribe) and on an `insecure` hub; with it, when the
     * request's grant covers the channel (the publish token covers all).
     */
    hubMayRead (request: FastifyRequest, channel: string): boolean
    /** The app's authorization callback (`authUrl`), for the metrics; undefined without one. */
    hubAuthCallback: AuthCallback | undefined
  }
}

export interface AccessPluginOptions {
  config: HubConfig
}

/** Where a token may come from: a Bearer header always; the query and the cookie only for GETs, never for a publish. */
interface TokenSources {
  query: boolean
  cookie: boolean
}

const ANYWHERE: TokenSources = { query: true, cookie: true }
/** A publish takes its token from the header only: a cookie would make it forgeable from other sites (CSRF) and a query would put it in logs. */
const BEARER_ONLY: TokenSources = { query: false, cookie: false }

/** Seconds in a `Retry-After` header, at least 1. */
function retryAfterSeconds (ms: number): string {
  return String(Math.max(1, Math.ceil(ms / 1000)))
}

/**
 * The single gate of the hub's routes, keyed by the `access` flag of each route's config, so
 * that no route checks credentials by itself and none can be forgotten. Who may do what is
 * decided here; lib/auth/auth.ts checks the tokens. Credentials are checked `onRequest`, before a body
 * is read (401, and the 429 of the publish limit, cost the server nothing); what a token grants is
 * checked `preHandler`, once the request is known to be well-formed (400 comes before 403).
 */
export default fp<AccessPluginOptions>(async function accessPlugin (fastify, { config }) {
  let publishToken = config.publishToken
  if (config.insecure) {
    fastify.log.warn('insecure: publishing and presence reads are open to anyone (SSE_HUB_INSECURE / --insecure / insecure)')
  } else if (publishToken === undefined && config.jwtSecret === undefined && config.jwtPublicKey === undefined && config.jwksUrl === undefined) {
    // Secure by default: nothing configured means a random token, shown this once and never again.
    const generated = generateToken()
    publishToken = [generated]
    fastify.log.warn(`no publish token, JWT secret or public key configured: publishing and presence reads need this generated token, shown only now: ${generated}`)
  }
  const auth = new Authenticator({ ...config, publishToken, logger: fastify.log })
  // The JWK sets are fetched before the hub takes requests; one that cannot be is fetched again later.
  await auth.start()
  fastify.addHook('onClose', async () => { auth.close() })
  const isMetricsToken = config.metricsToken === undefined ? undefined : secretMatcher(config.metricsToken)
  const publishLimit = config.publishRateLimit > 0 ? new RateLimiter(config.publishRateLimit) : undefined
  const connectLimit = config.connectRateLimit > 0 ? new RateLimiter(config.connectRateLimit) : undefined
  /** The grant of each checked request, for its preHandler. */
  const grants = new WeakMap<FastifyRequest, Grant>()

  // `request.ip` only when there is a limit: it is a getpeername system call per connect.
  fastify.decorate('hubAdmitsStream', (request: FastifyRequest) => connectLimit === undefined || connectLimit.take(request.ip) === 0)
  fastify.decorate('hubInsecure', config.insecure)
  fastify.decorateRequest('hubClientId', undefined)
  fastify.decorateRequest('hubTokenExpiresAt', undefined)
  fastify.decorateRequest('hubRefusal', undefined)
  fastify.decorateRequest('hubRenewGrant', undefined)
  fastify.decorateRequest('hubPublisher', undefined)
  const callback = config.authUrl === undefined ? undefined : new AuthCallback({ url: config.authUrl, timeout: config.authTimeout })
  fastify.decorate('hubAuthCallback', callback)
  // Its connections to the app close with the hub; the streams a renewal could be for ended in preClose.
  if (callback !== undefined) fastify.addHook('onClose', async () => { callback.close() })
  const forwarded = config.authForwardHeaders.split(',').map((name) => name.trim().toLowerCase()).filter((name) => name !== '')
  /** Requests without a valid token that the app is asked about, once their parameters are checked (preHandler). */
  const askTheApp = new WeakSet<FastifyRequest>()
  /** What the app was asked for each of them: a stream's grant is asked again with it when it runs out. */
  const questions = new WeakMap<FastifyRequest, AuthQuestion>()

  /**
   * A stream's renewal: the app asked again with the same question; the new expiry while the app
   * still grants the stream's channels (and presence) to the same clientId, else none (it ends).
   */
  function renewal (callback: AuthCallback, question: AuthQuestion, clientId: string, presence: boolean): () => Promise<number | undefined> {
    return async () => {
      const answer = await callback.ask(question)
      if (answer.outcome !== 'allowed') return undefined
      const { grant } = answer
      const holds = grant.subscribe.firstUncovered(question.channels) === undefined && (!presence || grant.presence) && (grant.sub ?? clientId) === clientId
      return holds ? grant.expiresAt : undefined
    }
  }
  // With subscribeAuth only a checked request has a grant here: one that was not checked reads nothing.
  fastify.decorate('hubMayRead', (request: FastifyRequest, channel: string) =>
    config.insecure || !config.subscribeAuth || grants.get(request)?.subscribe.covers(channel) === true)

  /** The grant of the request's token; a 401 (with `WWW-Authenticate`, RFC 6750) when it has none or a bad one. */
  async function authenticate (request: FastifyRequest, reply: FastifyReply, sources: TokenSources, acceptStatic: boolean): Promise<Grant> {
    try {
      return await auth.authenticate(requestToken(request, sources), acceptStatic)
    } catch (err) {
      reply.header('www-authenticate', `Bearer realm="sse-hub"${(err as HubError).code === 'SSE_HUB_BAD_TOKEN' ? ', error="invalid_token"' : ''}`)
      throw err
    }
  }

  /** Credentials, before the body is read. */
  async function checkCredentials (request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const access = request.routeOptions.config.access
    if (access === 'publish') {
      const wait = publishLimit?.take(request.ip) ?? 0
      if (wait > 0) {
        reply.header('retry-after', retryAfterSeconds(wait))
        throw rateLimited('publish', config.publishRateLimit, retryAfterSeconds(wait))
      }
      // An insecure hub's publishes need no grant: no preHandler reads one (see onRoute).
      if (config.insecure) return
      if (callback !== undefined && config.authPublish) await authenticateOrAsk(request, BEARER_ONLY, true)
      else grants.set(request, await authenticate(request, reply, BEARER_ONLY, true))
    } else if (access === 'presence') {
      if (config.insecure) return
      const grant = await authenticate(request, reply, ANYWHERE, true)
      if (!grant.presence) throw presenceNotGranted()
      if (!config.subscribeAuth) return
      if (request.routeOptions.config.payloads === 'all' && !grant.subscribe.all) {
        throw firehoseNotGranted()
      }
      grants.set(request, grant)
    } else if (access === 'metrics') {
      // Its own token, for a scraper: publishing and presence reads stay closed to it.
      if (isMetricsToken === undefined) return
      const token = bearerToken(request.headers.authorization)
      if (isMetricsToken(token)) return
      reply.header('www-authenticate', `Bearer realm="sse-hub-metrics"${token === undefined ? '' : ', error="invalid_token"'}`)
      throw token === undefined
        ? noToken('/metrics needs metricsToken as a Bearer token')
        : badToken('is not the metrics token')
    } else if (access === 'session') {
      // A cookie is set only from a JWT the hub verified: the same one the subscribe would verify.
      request.hubTokenExpiresAt = (await authenticate(request, reply, BEARER_ONLY, false)).expiresAt
    } else if ((access === 'subscribe' || access === 'lastEvent') && callback !== undefined) {
      await authenticateOrAsk(request, ANYWHERE, false)
    } else if ((access === 'subscribe' || access === 'lastEvent') && config.subscribeAuth) {
      // Only a JWT: the static token is a publisher's secret and has no place in a browser.
      const grant = await authenticate(request, reply, ANYWHERE, false)
      if (grant.sub !== undefined && !isChannelName(grant.sub)) {
        reply.header('www-authenticate', 'Bearer realm="sse-hub", error="invalid_token"')
        throw badToken(`sub ${notAClientId(grant.sub)}`)
      }
      grants.set(request, grant)
    }
  }

  /**
   * A valid token's grant; without one, the request is marked for the app's answer, asked in
   * `checkGrant`. A request that carries no token is marked at once: the app, not a 401, answers it.
   */
  async function authenticateOrAsk (request: FastifyRequest, sources: TokenSources, acceptStatic: boolean): Promise<void> {
    try {
      const token = requestToken(request, sources)
      if (token === undefined || token === '') askTheApp.add(request)
      else grants.set(request, await auth.authenticate(token, acceptStatic))
    } catch {
      askTheApp.add(request)
    }
  }

  /** The request's headers of `authForwardHeaders`, as the app is sent them (a repeated one joined with `, `). */
  function forwardedHeaders (request: FastifyRequest): Record<string, string> {
    // No prototype: a header name is only ever a key of its own.
    const headers: Record<string, string> = Object.create(null)
    for (const name of forwarded) {
      const value = request.headers[name]
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value
    }
    return headers
  }

  /** The app's grant for a request without a valid token; its refusal as a 401 or 403; when it cannot answer, 503 (a subscribe is refused for now). */
  async function askApp (request: FastifyRequest, reply: FastifyReply, callback: AuthCallback): Promise<Grant | undefined> {
    const access = request.routeOptions.config.access
    const question: AuthQuestion = {
      action: access === 'publish' ? 'publish' : 'subscribe',
      channels: access === 'publish'
        ? [...new Set((request.body as PublishBody).events.map((event) => event.channelName))]
        : access === 'lastEvent' ? [(request.query as { channel: string }).channel] : (request.query as SubscribeQuery).channels,
      clientId: access === 'subscribe' ? (request.query as SubscribeQuery).clientId ?? null : null,
      address: request.ip,
      headers: forwardedHeaders(request)
    }
    questions.set(request, question)
    const answer = await callback.ask(question)
    if (answer.outcome === 'allowed') return answer.grant
    if (answer.outcome === 'refused') {
      if (answer.status === 401) reply.header('www-authenticate', 'Bearer realm="sse-hub"')
      throw authRefused(answer.status, answer.message)
    }
    request.log.warn(`authUrl: ${answer.reason}`)
    if (access !== 'subscribe') throw authUnavailable(answer.reason)
    request.hubRefusal = 'auth-unavailable'
    return undefined
  }

  /** What the grant of `checkCredentials` covers, once the request is known to be well-formed. */
  async function checkGrant (request: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (callback !== undefined && askTheApp.has(request)) {
      const answer = await askApp(request, reply, callback)
      if (answer === undefined) return
      grants.set(request, answer)
    }
    const grant = grants.get(request)
    if (grant === undefined) return
    const access = request.routeOptions.config.access
    if (access === 'publish') {
      request.hubPublisher = grant.sub
      if (grant.publish.all) return
      // The batch as the route's schema checked it: a bad one was a 400, before any 403.
      const { events } = request.body as PublishBody
      const index = events.findIndex((event) => !grant.publish.covers(event.channelName))
      if (index >= 0) {
        throw publishNotGranted(index, events[index].channelName)
      }
    } else if (access === 'subscribe') {
      // Each route's own parameters, as its schema checked and parsed them: another route's never count.
      const query = request.query as SubscribeQuery
      const uncovered = grant.subscribe.firstUncovered(query.channels)
      if (uncovered !== undefined) throw subscribeNotGranted(uncovered)
      if (presenceFlag(query.presence) && !grant.presence) {
        throw presenceNotGranted('presence=1')
      }
      // The token is the subscriber's identity: its sub, else a fresh id, never the query's clientId.
      request.hubClientId = grant.sub ?? fastify.hub[STREAMS].newClientId()
      request.hubTokenExpiresAt = grant.expiresAt
      const question = questions.get(request)
      if (callback !== undefined && question !== undefined) {
        request.hubRenewGrant = renewal(callback, question, request.hubClientId, presenceFlag(query.presence))
      }
    } else if (access === 'lastEvent') {
      const { channel } = request.query as { channel: string }
      // A bad name is the route's 400.
      if (isChannelName(channel) && !grant.subscribe.covers(channel)) throw subscribeNotGranted(channel)
    }
  }

  // Each flagged route gets the checks its flag needs under this configuration, ahead of any hook of
  // its own; a route with nothing to check (e.g. a subscribe without subscribeAuth) runs none.
  fastify.addHook('onRoute', (route) => {
    const access = route.config?.access
    if (access === undefined) return
    // An insecure hub's publish has only the rate limit to check, if it has one.
    const credentials = (access === 'publish' && (!config.insecure || publishLimit !== undefined)) || access === 'session' ||
      (access === 'presence' && !config.insecure) ||
      (access === 'metrics' && isMetricsToken !== undefined) ||
      ((access === 'subscribe' || access === 'lastEvent') && config.subscribeAuth)
    if (!credentials) return
    route.onRequest = [checkCredentials, ...hooksOf(route.onRequest)]
    // Only these read a grant set by checkCredentials; an insecure hub's publishes need none.
    if ((access === 'publish' && !config.insecure) || access === 'subscribe' || access === 'lastEvent') {
      route.preHandler = [checkGrant, ...hooksOf(route.preHandler)]
    }
  })
}, { name: 'sse-hub-access', fastify: '5.x', dependencies: ['sse-hub-core'] })

/** A route's own hooks of one kind, as a list. */
export function hooksOf<T> (hooks: T | T[] | undefined): T[] {
  return hooks === undefined ? [] : Array.isArray(hooks) ? hooks : [hooks]
}

/**
 * The token a request carries: `Authorization: Bearer`, else (where allowed) the `token` query
 * parameter, else the `sse_hub_token` cookie. A token given twice in the query is refused.
 */
function requestToken (request: FastifyRequest, sources: TokenSources): string | undefined {
  const bearer = bearerToken(request.headers.authorization)
  if (bearer !== undefined) return bearer
  if (sources.query) {
    const token = (request.query as Record<string, unknown> | undefined)?.token
    if (Array.isArray(token)) throw badToken('given more than once')
    if (typeof token === 'string' && token !== '') return token
  }
  return sources.cookie ? cookieValue(request.headers.cookie, TOKEN_COOKIE) : undefined
}
