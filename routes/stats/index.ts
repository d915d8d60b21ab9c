import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errorResponses, StatsSchema, TokenQuerySchema } from '../../lib/core/schemas.js'

/**
 * `GET /stats`: the counters of this process (`Hub.counters()`) and its health status, as JSON,
 * for the dashboard. Per process: in cluster mode each node answers for itself. A presence read,
 * behind the hub's one access check.
 */
const stats: FastifyPluginAsyncTypebox = async (fastify) => {
  const { hub } = fastify

  fastify.get('/', {
    config: { access: 'presence' },
    schema: {
      operationId: 'getStats',
      summary: 'The counters of the process that answers, as JSON (the dashboard\'s)',
      querystring: TokenQuerySchema,
      response: {
        200: StatsSchema,
        ...errorResponses({
          400: 'a parameter given twice',
          401: 'no token (Bearer header, token query parameter or sse_hub_token cookie), or an invalid or expired one; with WWW-Authenticate',
          403: 'the token does not allow presence reads (a JWT without hub.presence)'
        })
      }
    }
  }, async () => {
    const status = hub.draining ? 'draining' as const : hub.broker.healthy?.() === false ? 'broker-down' as const : 'ok' as const
    return { status, ...hub.counters() }
  })
}

export default stats
