import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { parseChannelList } from '../../lib/base/names.js'
import { STREAMS } from '../../lib/core/hub.js'
import { errorResponses, PRESENCE_READ_ERRORS, PresenceQuerySchema, PresenceStreamResponse } from '../../lib/core/schemas.js'

/**
 * `GET /presence[?channels=a,b]`: an SSE stream of who is online — `snapshot`, then `join` and
 * `leave`. The query is checked before the stream starts (400, as on /subscribe); refusals
 * (draining, maxConnections) are answered as on /subscribe. A presence read, behind the hub's one
 * access check.
 */
const presence: FastifyPluginAsyncTypebox = async (fastify) => {
  const { hub } = fastify

  fastify.get('/', {
    config: { access: 'presence' },
    schema: {
      operationId: 'watchPresence',
      summary: 'Who is online, live: an SSE stream of joins and leaves',
      querystring: PresenceQuerySchema,
      response: {
        200: PresenceStreamResponse,
        ...errorResponses({
          400: 'bad channels, or a parameter given twice',
          ...PRESENCE_READ_ERRORS
        })
      }
    }
  }, async (request, reply) => {
    const { channels } = request.query
    const channelNames = channels === undefined ? undefined : parseChannelList(channels, hub.options.maxChannelsPerSubscription)

    const sink = await reply.openStream()
    if (sink === undefined) return
    await hub[STREAMS].watchPresence(sink, channelNames)
  })
}

export default presence
