import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ErrorSchema, MetricsReplySchema } from '../../lib/core/schemas.js'

/**
 * `GET /metrics`: the Prometheus text of this process and its hub (see `lib/core/metrics.ts`).
 * Open unless `metricsToken` is set; then behind the hub's one access check, as a Bearer token.
 */
const metrics: FastifyPluginAsyncTypebox = async (fastify) => {
  const { hubMetrics } = fastify

  fastify.get('/', {
    config: { access: 'metrics' },
    schema: { response: { 200: MetricsReplySchema, '4xx': ErrorSchema } }
  }, async (_request, reply) => {
    const text = await hubMetrics.scrape()
    return reply.type(hubMetrics.contentType).send(text)
  })
}

export default metrics
