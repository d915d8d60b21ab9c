import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { checkClientId, parseChannelList } from '../../lib/core/names.js'
import { presenceFlag } from '../../lib/core/presence.js'
import { ErrorSchema, SubscribeHeadersSchema, SubscribeQuerySchema } from '../../lib/core/schemas.js'

/**
 * `GET /subscribe?channels=a,b`: one EventSource stream for all the given channels.
 * The request is checked before the stream starts (400 with a JSON body); a subscribe refused
 * only for now gets a 200 with `retry:` and a closed stream, because EventSource gives up for
 * good on any other status.
 */
const subscribe: FastifyPluginAsyncTypebox = async (fastify) => {
  const { hub } = fastify

  fastify.get('/', {
    config: { access: 'subscribe' },
    schema: {
      querystring: SubscribeQuerySchema,
      headers: SubscribeHeadersSchema,
      response: { '4xx': ErrorSchema }
    }
  }, async (request, reply) => {
    const { channels, clientId, lastEventId, presence } = request.query
    const channelNames = parseChannelList(channels, hub.options.maxChannelsPerSubscription)
    // With subscribeAuth the token's sub is the identity (set by the access check).
    const id = request.hubClientId ?? (clientId === undefined ? hub.newClientId() : checkClientId(clientId))
    const followPresence = presenceFlag(presence)

    const sink = await reply.openStream()
    if (sink === undefined) return
    await hub.subscribe(sink, {
      channelNames,
      clientId: id,
      lastEventId: request.headers['last-event-id'] ?? lastEventId,
      presence: followPresence
    })
  })
}

export default subscribe
