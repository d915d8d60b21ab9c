import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { Authenticator, bearerToken, cookieValue, FULL_GRANT, type Grant, generateToken, secretMatcher, TOKEN_COOKIE } from '../lib/auth/auth.js'
import type { HubConfig } from '../lib/config/config.js'
import { badToken, firehoseNotGranted, type HubError, noToken, notAClientId, presenceNotGranted, publishNotGranted, rateLimited, subscribeNotGranted } from '../lib/base/errors.js'
import { isChannelName } from '../lib/base/rules.js'
import { STREAMS } from '../lib/core/hub.js'
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
     * Routes without it (`/health`, the dashboard page) are open.
     */
    access?: 'publish' | 'subscribe' | 'lastEvent' | 'presence' | 'metrics'
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
    /** When a subscriber's token expires (its `exp`, ms since the epoch): its stream ends then. Only with `subscribeAuth`. */
    hubTokenExpiresAt?: number
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
  } else if (publishToken === undefined && config.jwtSecret === undefined && config.jwtPublicKey === undefined) {
    // Secure by default: nothing configured means a random token, shown this once and never again.
    publishToken = generateToken()
    fastify.log.warn(`no publish token, JWT secret or public key configured: publishing and presence reads need this generated token, shown only now: ${publishToken}`)
  }
  const auth = new Authenticator({ ...config, publishToken })
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
  // With subscribeAuth only a checked request has a grant here: one that was not checked reads nothing.
  fastify.decorate('hubMayRead', (request: FastifyRequest, channel: string) =>
    config.insecure || !config.subscribeAuth || grants.get(request)?.subscribe.covers(channel) === true)

  /** The grant of the request's token; a 401 (with `WWW-Authenticate`, RFC 6750) when it has none or a bad one. */
  function authenticate (request: FastifyRequest, reply: FastifyReply, sources: TokenSources, acceptStatic: boolean): Grant {
    try {
      return auth.authenticate(requestToken(request, sources), acceptStatic)
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
      grants.set(request, config.insecure ? FULL_GRANT : authenticate(request, reply, BEARER_ONLY, true))
    } else if (access === 'presence') {
      if (config.insecure) return
      const grant = authenticate(request, reply, ANYWHERE, true)
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
    } else if ((access === 'subscribe' || access === 'lastEvent') && config.subscribeAuth) {
      // Only a JWT: the static token is a publisher's secret and has no place in a browser.
      const grant = authenticate(request, reply, ANYWHERE, false)
      if (grant.sub !== undefined && !isChannelName(grant.sub)) {
        reply.header('www-authenticate', 'Bearer realm="sse-hub", error="invalid_token"')
        throw badToken(`sub ${notAClientId(grant.sub)}`)
      }
      grants.set(request, grant)
    }
  }

  /** What the grant of `checkCredentials` covers, once the request is known to be well-formed. */
  async function checkGrant (request: FastifyRequest): Promise<void> {
    const grant = grants.get(request)
    if (grant === undefined) return
    const access = request.routeOptions.config.access
    if (access === 'publish') {
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
    const credentials = access === 'publish' ||
      (access === 'presence' && !config.insecure) ||
      (access === 'metrics' && isMetricsToken !== undefined) ||
      ((access === 'subscribe' || access === 'lastEvent') && config.subscribeAuth)
    if (!credentials) return
    route.onRequest = [checkCredentials, ...hooksOf(route.onRequest)]
    // Only these read a grant set by checkCredentials; an insecure hub's publishes hold the full grant.
    if ((access === 'publish' && !config.insecure) || access === 'subscribe' || access === 'lastEvent') {
      route.preHandler = [checkGrant, ...hooksOf(route.preHandler)]
    }
  })
}, { name: 'sse-hub-access', fastify: '5.x', dependencies: ['sse-hub-core'] })

/** A route's own hooks of one kind, as a list. */
function hooksOf<T> (hooks: T | T[] | undefined): T[] {
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
