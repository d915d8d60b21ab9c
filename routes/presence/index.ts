import type { OutgoingHttpHeaders } from 'node:http'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { parseChannelList } from '../../lib/names.js'
import { ErrorSchema, PresenceQuerySchema } from '../../lib/schemas.js'
import { openSink } from '../../lib/sink.js'
import { SSE_HEADERS } from '../../lib/sse.js'

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
      querystring: PresenceQuerySchema,
      response: { '4xx': ErrorSchema }
    }
  }, async (request, reply) => {
    const { channels } = request.query
    const channelNames = channels === undefined ? undefined : parseChannelList(channels, hub.options.maxChannelsPerSubscription)

    // As on /subscribe: hooks (CORS) set their headers on the reply, which a hijacked response must copy.
    const headers = { ...reply.getHeaders(), ...SSE_HEADERS } as OutgoingHttpHeaders
    reply.hijack()
    const refusal = hub.refusal()
    if (refusal !== undefined) {
      hub.refuse(openSink(reply.raw, { ...headers, 'x-sse-hub-refused': refusal }), refusal)
      return
    }
    await hub.watchPresence(openSink(reply.raw, headers), channelNames)
  })
}

export default presence
