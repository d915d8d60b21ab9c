import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errorResponses, MetricsResponse } from '../../lib/core/schemas.js'

/**
 * `GET /metrics`: the Prometheus text of this process and its hub (see `lib/core/metrics.ts`).
 * Open unless `metricsToken` is set; then behind the hub's one access check, as a Bearer token.
 */
const metrics: FastifyPluginAsyncTypebox = async (fastify) => {
  const { hubMetrics } = fastify

  fastify.get('/', {
    config: { access: 'metrics' },
    schema: {
      operationId: 'getMetrics',
      summary: 'Prometheus metrics of this process and its hub',
      response: {
        200: MetricsResponse,
        ...errorResponses({
          401: 'with metricsToken set: no Bearer token, or another one; with WWW-Authenticate'
        })
      }
    }
  }, async (_request, reply) => {
    const text = await hubMetrics.scrape()
    return reply.type(hubMetrics.contentType).send(text)
  })
}

export default metrics
