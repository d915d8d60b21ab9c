import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { pageLimit } from '../../lib/registry/paging.js'
import { ChannelDetailSchema, ChannelPageSchema, ChannelParamsSchema, ChannelsQuerySchema, errorResponses, PRESENCE_READ_ERRORS } from '../../lib/core/schemas.js'

/**
 * `GET /channels` (the channels with subscribers, paged) and `GET /channels/:name` (any channel:
 * zeros and a null `lastEvent` when unused; the name is a wildcard, see ChannelParamsSchema).
 * Presence reads, behind the hub's one access check. A last event's payload goes only to who may
 * subscribe to its channel: with subscribeAuth, a grant that does not cover it reads `lastEvent: null`.
 */
const channels: FastifyPluginAsyncTypebox = async (fastify) => {
  const { hub } = fastify

  fastify.get('/', {
    config: { access: 'presence' },
    schema: {
      operationId: 'listChannels',
      summary: 'The channels with at least one subscriber, paged, in name order',
      querystring: ChannelsQuerySchema,
      response: {
        200: ChannelPageSchema,
        ...errorResponses({
          400: 'a bad limit or cursor, or a parameter given twice',
          ...PRESENCE_READ_ERRORS,
          503: 'cluster mode: Redis did not answer (SSE_HUB_BROKER_DOWN); retry later'
        })
      }
    }
  }, async (request) => {
    const { limit, cursor } = request.query
    return hub.channels({ limit: pageLimit(limit), cursor })
  })

  fastify.get('/*', {
    config: { access: 'presence' },
    schema: {
      operationId: 'getChannel',
      summary: 'One channel: its subscribers and its last event (zeros and null when unused; null too when the token may not subscribe to it)',
      params: ChannelParamsSchema,
      response: {
        200: ChannelDetailSchema,
        ...errorResponses({
          400: 'not a valid channel name',
          ...PRESENCE_READ_ERRORS,
          503: 'cluster mode: Redis did not answer (SSE_HUB_BROKER_DOWN); retry later'
        })
      }
    }
  }, async (request) => {
    const name = request.params['*']
    const detail = await hub.channel(name)
    return fastify.hubMayRead(request, name) ? detail : { ...detail, lastEvent: null }
  })
}

export default channels
