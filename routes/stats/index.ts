import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ErrorSchema, StatsSchema, TokenQuerySchema } from '../../lib/core/schemas.js'

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
      querystring: TokenQuerySchema,
      response: { 200: StatsSchema, '4xx': ErrorSchema }
    }
  }, async () => {
    const status = hub.draining ? 'draining' as const : hub.broker.healthy?.() === false ? 'broker-down' as const : 'ok' as const
    return { status, ...hub.counters() }
  })
}

export default stats
