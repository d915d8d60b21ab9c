import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { STREAMS } from '../../lib/core/hub.js'
import { errorResponses, FirehoseStreamResponse, PRESENCE_READ_ERRORS, TokenQuerySchema } from '../../lib/core/schemas.js'

/**
 * `GET /firehose`: an SSE stream of every event published on any channel from the moment it
 * connects, as subscribers get them (`id:`, `event: <type>`, data `{"channelName","type","payload"}`);
 * no snapshots, no resume. Refusals (draining, maxConnections) are answered as on /subscribe. A
 * presence read, behind the hub's one access check, that carries every channel's payloads: with
 * subscribeAuth it needs a grant of every channel too (`payloads: 'all'`).
 */
const firehose: FastifyPluginAsyncTypebox = async (fastify) => {
  const { hub } = fastify

  fastify.get('/', {
    config: { access: 'presence', payloads: 'all' },
    schema: {
      operationId: 'watchEverything',
      summary: 'Every event of every channel, live: an SSE stream (the dashboard\'s log)',
      querystring: TokenQuerySchema,
      response: {
        200: FirehoseStreamResponse,
        ...errorResponses({
          400: 'a parameter given twice',
          ...PRESENCE_READ_ERRORS,
          403: 'the token does not allow presence reads (a JWT without hub.presence) or, with subscribeAuth, reading every channel (a JWT whose hub.subscribe lacks *)'
        })
      }
    }
  }, async (_request, reply) => {
    const sink = await reply.openStream()
    if (sink === undefined) return
    hub[STREAMS].watchAll(sink)
  })
}

export default firehose
