import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errorResponses, PRESENCE_READ_ERRORS, StatsSchema, TokenQuerySchema } from '../../lib/core/schemas.js'

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
          ...PRESENCE_READ_ERRORS
        })
      }
    }
  }, async () => {
    return { status: hub.status(), ...hub.counters() }
  })
}

export default stats
