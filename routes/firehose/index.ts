import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ErrorSchema, TokenQuerySchema } from '../../lib/core/schemas.js'

/**
 * `GET /firehose`: an SSE stream of every event published on any channel from the moment it
 * connects, as subscribers get them (`id:`, `event: <type>`, data `{"channelName","type","payload"}`);
 * no snapshots, no resume. Refusals (draining, maxConnections) are answered as on /subscribe. A
 * presence read, behind the hub's one access check: it shows every channel's traffic.
 */
const firehose: FastifyPluginAsyncTypebox = async (fastify) => {
  const { hub } = fastify

  fastify.get('/', {
    config: { access: 'presence' },
    schema: {
      querystring: TokenQuerySchema,
      response: { '4xx': ErrorSchema }
    }
  }, async (_request, reply) => {
    const sink = await reply.openStream()
    if (sink === undefined) return
    hub.watchAll(sink)
  })
}

export default firehose
