import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { badChannelName } from '../../lib/base/errors.js'
import { isChannelName } from '../../lib/base/rules.js'
import { errorResponses, LastEventQuerySchema, LastEventReplySchema } from '../../lib/core/schemas.js'

/**
 * `GET /lastEvent?channel=c`: `{"response":"<JSON string of the last {type, payload}>"}` or `"{}"`.
 * With `subscribeAuth`, it needs the grant a subscribe to the channel needs (the hub's access check).
 */
const lastEvent: FastifyPluginAsyncTypebox = async (fastify) => {
  const { hub } = fastify

  fastify.get('/', {
    config: { access: 'lastEvent' },
    schema: {
      operationId: 'getLastEvent',
      summary: 'The last event of a channel',
      querystring: LastEventQuerySchema,
      response: {
        200: LastEventReplySchema,
        ...errorResponses({
          400: 'channel missing or not a valid channel name, or given twice',
          401: 'subscribeAuth: no JWT (token query parameter, sse_hub_token cookie or Bearer header), or an invalid or expired one; with WWW-Authenticate',
          403: 'subscribeAuth: the JWT does not cover the channel (hub.subscribe)',
          503: 'cluster mode: Redis did not answer (SSE_HUB_BROKER_DOWN); retry later'
        })
      }
    }
  }, async (request) => {
    const { channel } = request.query
    if (!isChannelName(channel)) {
      throw badChannelName('channel', channel)
    }
    return { response: await hub.lastEvent(channel) }
  })
}

export default lastEvent
