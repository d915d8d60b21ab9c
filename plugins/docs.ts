import swagger, { type SwaggerTransform } from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyContextConfig, FastifySchema } from 'fastify'
import fp from 'fastify-plugin'
import type { HubConfig } from '../lib/config/config.js'
import { packageVersion } from '../lib/config/package-version.js'

export interface DocsPluginOptions {
  config: HubConfig
}

type Access = NonNullable<FastifyContextConfig['access']>
type Scheme = 'publishToken' | 'jwt' | 'tokenQuery' | 'tokenCookie' | 'metricsToken'

/** The ways a request carries its token (see plugins/access.ts). */
const SECURITY_SCHEMES = {
  publishToken: {
    type: 'http',
    scheme: 'bearer',
    description: 'The publish token (SSE_HUB_PUBLISH_TOKEN, or the one the hub generated at start and logged once): ' +
      'publishing to every channel, and presence reads.'
  },
  jwt: {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description: 'A JWT signed with the hub\'s key, whose claim `hub` grants `{"publish":[patterns],"subscribe":[patterns],"presence":true}` ' +
      '(a pattern is a channel name, a prefix ending in `*`, or `*`).'
  },
  tokenQuery: {
    type: 'apiKey',
    in: 'query',
    name: 'token',
    description: 'The token in the query, for EventSource, which cannot set headers: the publish token or a JWT for presence ' +
      'reads, a JWT for subscribers. A publish never reads it.'
  },
  tokenCookie: {
    type: 'apiKey',
    in: 'cookie',
    name: 'sse_hub_token',
    description: 'The token as a cookie, as for the query. A publish never reads it.'
  },
  metricsToken: {
    type: 'http',
    scheme: 'bearer',
    description: 'The metrics token (SSE_HUB_METRICS_TOKEN), for a Prometheus scraper: it opens /metrics and nothing else.'
  }
} as const

/** The operations' tags, by access flag; the routes without one are operations' routes (health). */
const TAGS: Record<Access | 'none', string> = {
  subscribe: 'subscribers',
  lastEvent: 'subscribers',
  publish: 'publishers',
  presence: 'presence',
  metrics: 'operations',
  session: 'subscribers',
  none: 'operations'
}

/**
 * The Swagger UI page may load its own scripts, styles and images (inline `data:` icons) and talk
 * to its own origin (the document, and "Try it out"), nothing else: no inline script or style, no
 * other site (@fastify/swagger-ui turns the validator badge off), no framing, no form posted anywhere.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "img-src 'self' data:",
  "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'"
].join('; ')

const DESCRIPTION = 'A Server-Sent Events pub/sub hub. Subscribers open one EventSource on `subscribe` for all their ' +
  'channels; publishers `POST` batches of events to `publish`; presence reads say who is connected. Every error is ' +
  'JSON `{statusCode, code, error, message}` with a stable `code`; so are the answers the server gives before any ' +
  'route (a malformed request, headers too large, a request that timed out: 408, and 503 `SSE_HUB_STOPPING` while the process stops).'

/**
 * The schemes each access flag accepts with this configuration, as plugins/access.ts checks them;
 * none: the route is open. A publish reads only the Bearer header; presence reads also the query
 * and the cookie; subscribers need a JWT only with `subscribeAuth`.
 */
function acceptedSchemes (config: HubConfig): Record<Access, Scheme[]> {
  const jwt = config.jwtSecret !== undefined || config.jwtPublicKey !== undefined || config.jwksUrl !== undefined
  // The publish token is the configured one, or one generated at start when no JWT key is set.
  const bearers: Scheme[] = [...(config.publishToken !== undefined || !jwt ? ['publishToken' as const] : []), ...(jwt ? ['jwt' as const] : [])]
  const subscriber: Scheme[] = config.subscribeAuth ? ['jwt', 'tokenQuery', 'tokenCookie'] : []
  return {
    publish: config.insecure ? [] : bearers,
    presence: config.insecure ? [] : [...bearers, 'tokenQuery', 'tokenCookie'],
    subscribe: subscriber,
    lastEvent: subscriber,
    metrics: config.metricsToken === undefined ? [] : ['metricsToken'],
    // Always a JWT: without a key configured, every token is refused.
    session: ['jwt']
  }
}

/**
 * The hub's API documentation: `GET <prefix>/docs`, Swagger UI with its assets served from the
 * package, and `GET <prefix>/docs/json`, the OpenAPI 3.0 document. @fastify/swagger builds it from
 * the schemas the routes validate with, so it is registered in the hub's route scope before the
 * routes: it holds the hub's routes only, under the hub's prefix, and each hub of an app has its
 * own. Each operation's security follows from its route's `config.access` and the configuration,
 * here and nowhere else; so do its 401 and 403, which an open operation does not list. The routes
 * are read as they are registered and the document is built on its first request: no hook runs
 * per request.
 */
export default fp<DocsPluginOptions>(async function docsPlugin (fastify, { config }) {
  const accepted = acceptedSchemes(config)
  const used = new Set(Object.values(accepted).flat())

  const transform: SwaggerTransform = ({ schema, url, route }) => {
    // The CORS preflight answers no request of its own; a route without a schema is documented all the same.
    if (route.method === 'OPTIONS') return { schema: { ...schema, hide: true }, url }
    const access = route.config?.access
    const schemes = access === undefined ? [] : accepted[access]
    // An open route that belongs with others (`DELETE /session`) names its tag itself.
    const documented: FastifySchema = { ...schema, tags: schema?.tags ?? [TAGS[access ?? 'none']] }
    if (schemes.length > 0) {
      documented.security = schemes.map((scheme) => ({ [scheme]: [] }))
    } else {
      // Open: no 401 or 403, and no `token` parameter, which the hub then ignores.
      if (schema?.response !== undefined) {
        const { 401: _missing, 403: _forbidden, ...response } = schema.response as Record<string, unknown>
        documented.response = response
      }
      const query = schema?.querystring as { properties?: Record<string, unknown>, required?: string[] } | undefined
      if (query?.properties?.token !== undefined) {
        const { token: _ignored, ...properties } = query.properties
        documented.querystring = { ...query, properties }
      }
    }
    // A route at the root of a prefix (`/subscribe`) answers with and without a trailing slash, and
    // swagger sees it once, with the slash (Fastify registers both spellings from one route object).
    const path = url.length > 1 && url.endsWith('/') ? url.slice(0, -1) : url
    return namedWildcard(documented, path)
  }

  await fastify.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'fastify-sse-hub', version: packageVersion(), description: DESCRIPTION },
      components: { securitySchemes: Object.fromEntries([...used].map((scheme) => [scheme, SECURITY_SCHEMES[scheme]])) },
      tags: [
        { name: TAGS.subscribe, description: 'the subscribers\' stream and last events' },
        { name: TAGS.publish, description: 'publishing' },
        { name: TAGS.presence, description: 'who is connected, listed and live' },
        { name: TAGS.none, description: 'what operators and load balancers read' }
      ]
    },
    transform
  })
  // A scope of its own, so that the headers below go to the documentation's routes only.
  await fastify.register(async function docsPages (scope) {
    // Like the dashboard's page: never sniffed or framed (X-Frame-Options for browsers without CSP).
    scope.addHook('onRequest', async (_request, reply) => {
      reply.header('x-content-type-options', 'nosniff').header('x-frame-options', 'DENY').header('referrer-policy', 'no-referrer')
    })
    await scope.register(swaggerUi, {
      routePrefix: '/docs',
      // The page's links to its scripts and styles are absolute: they need the hub's prefix.
      indexPrefix: fastify.prefix,
      theme: { title: 'fastify-sse-hub API' },
      // The page without Swagger's top bar, whose logo is an SVG with an inline style the policy
      // blocks, and whose box loads any document from any URL: this page shows the hub's own.
      uiConfig: { layout: 'BaseLayout' },
      // On the page, its scripts and styles, and the document.
      staticCSP: CONTENT_SECURITY_POLICY
    })
  })
}, { name: 'sse-hub-docs', fastify: '5.x' })

/**
 * A trailing wildcard (`/clients/*`, which takes a name whole, `/` included) documented as the
 * path parameter its schema's `title` names (`/clients/{clientId}`).
 */
function namedWildcard (schema: FastifySchema, url: string): { schema: FastifySchema, url: string } {
  const params = schema.params as { properties?: Record<string, { title?: string }> } | undefined
  const name = params?.properties?.['*']?.title
  if (params?.properties === undefined || name === undefined || !url.endsWith('/*')) return { schema, url }
  const { '*': wildcard, ...others } = params.properties
  return {
    schema: { ...schema, params: { ...params, properties: { ...others, [name]: wildcard }, required: [...Object.keys(others), name] } },
    url: `${url.slice(0, -1)}:${name}`
  }
}
