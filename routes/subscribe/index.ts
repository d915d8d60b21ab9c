import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { checkClientId } from '../../lib/base/names.js'
import { STREAMS } from '../../lib/core/hub.js'
import { presenceFlag } from '../../lib/core/presence.js'
import { ownCopy } from '../../lib/core/subscriber-index.js'
import { errorResponses, SubscribeHeadersSchema, type SubscribeQuery, subscribeQuerySchema, SubscribeStreamResponse } from '../../lib/core/schemas.js'

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
      operationId: 'subscribe',
      summary: 'Subscribe to channels: one SSE stream for all of them',
      querystring: subscribeQuerySchema(hub.options.maxChannelsPerSubscription),
      headers: SubscribeHeadersSchema,
      response: {
        200: SubscribeStreamResponse,
        ...errorResponses({
          400: 'channels missing or bad (a bad name, an empty item, too many), a bad clientId or presence, or a parameter given twice',
          401: 'subscribeAuth: no JWT (token query parameter, sse_hub_token cookie or Bearer header), or an invalid or expired one; with WWW-Authenticate',
          403: 'subscribeAuth: the JWT does not cover one of the channels (hub.subscribe), or presence=1 without hub.presence'
        })
      }
    }
  }, async (request, reply) => {
    // The channel list was parsed with the query (subscribeQuerySchema), once.
    const { channels: channelNames, clientId, lastEventId, presence } = request.query as unknown as SubscribeQuery
    // With subscribeAuth the token's sub is the identity (set by the access check). The stream
    // keeps its clientId: one from the query, a slice of the URL, is copied (see ownCopy).
    const id = request.hubClientId ?? (clientId === undefined ? hub[STREAMS].newClientId() : ownCopy(checkClientId(clientId)))
    const followPresence = presenceFlag(presence)

    const sink = await reply.openStream()
    if (sink === undefined) return
    await hub[STREAMS].subscribe(sink, {
      channelNames,
      clientId: id,
      lastEventId: request.headers['last-event-id'] ?? lastEventId,
      presence: followPresence,
      expiresAt: request.hubTokenExpiresAt,
      renew: request.hubRenewGrant
    })
  })
}

export default subscribe
