import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { HealthReplySchema } from '../../lib/core/schemas.js'

/**
 * `GET /health`: 200 while serving; 503 once draining, or while the broker (Redis, in cluster
 * mode) is unreachable, so a load balancer stops sending clients here.
 */
const health: FastifyPluginAsyncTypebox = async (fastify) => {
  const { hub } = fastify

  fastify.get('/', {
    schema: {
      operationId: 'getHealth',
      summary: 'Whether this node takes clients: for a load balancer',
      response: {
        200: { ...HealthReplySchema, description: 'serving: {"status":"ok"}' },
        503: { ...HealthReplySchema, description: 'draining (SIGTERM or SIGINT received), or in cluster mode Redis unreachable: {"status":"draining"} or {"status":"broker-down"}' }
      }
    }
  }, async (_request, reply) => {
    const status = hub.status()
    return reply.code(status === 'ok' ? 200 : 503).send({ status })
  })
}

export default health
