import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { HubError } from '../../lib/core/errors.js'
import { CHANNEL_NAME_RULE, isChannelName, quote } from '../../lib/core/names.js'
import { ErrorSchema, LastEventQuerySchema, LastEventReplySchema } from '../../lib/core/schemas.js'

/**
 * `GET /lastEvent?channel=c`: `{"response":"<JSON string of the last {type, payload}>"}` or `"{}"`.
 * With `subscribeAuth`, it needs the grant a subscribe to the channel needs (the hub's access check).
 */
const lastEvent: FastifyPluginAsyncTypebox = async (fastify) => {
  const { hub } = fastify

  fastify.get('/', {
    config: { access: 'lastEvent' },
    schema: {
      querystring: LastEventQuerySchema,
      response: { 200: LastEventReplySchema, '4xx': ErrorSchema }
    }
  }, async (request) => {
    const { channel } = request.query
    if (!isChannelName(channel)) {
      throw new HubError(400, 'SSE_HUB_BAD_CHANNELS', `channel: ${quote(channel)} is not a valid channel name (${CHANNEL_NAME_RULE})`)
    }
    return { response: await hub.lastEvent(channel) }
  })
}

export default lastEvent
