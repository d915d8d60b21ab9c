import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { HealthReplySchema } from '../../lib/core/schemas.js'

/**
 * `GET /health`: 200 while serving; 503 once draining, or while the broker (Redis, in cluster
 * mode) is unreachable, so a load balancer stops sending clients here.
 */
const health: FastifyPluginAsyncTypebox = async (fastify) => {
  const { hub } = fastify

  fastify.get('/', {
    schema: { response: { 200: HealthReplySchema, 503: HealthReplySchema } }
  }, async (_request, reply) => {
    if (hub.draining) return reply.code(503).send({ status: 'draining' })
    if (hub.broker.healthy?.() === false) return reply.code(503).send({ status: 'broker-down' })
    return { status: 'ok' as const }
  })
}

export default health
