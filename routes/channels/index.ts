import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { pageLimit } from '../../lib/registry/paging.js'
import { ChannelDetailSchema, ChannelPageSchema, ChannelParamsSchema, ChannelsQuerySchema, ErrorSchema } from '../../lib/core/schemas.js'

/**
 * `GET /channels` (the channels with subscribers, paged) and `GET /channels/:name` (any channel:
 * zeros and a null `lastEvent` when unused; the name is a wildcard, see ChannelParamsSchema).
 * Presence reads, behind the hub's one access check.
 */
const channels: FastifyPluginAsyncTypebox = async (fastify) => {
  const { hub } = fastify

  fastify.get('/', {
    config: { access: 'presence' },
    schema: {
      querystring: ChannelsQuerySchema,
      response: { 200: ChannelPageSchema, '4xx': ErrorSchema }
    }
  }, async (request) => {
    const { limit, cursor } = request.query
    return hub.channels({ limit: pageLimit(limit), cursor })
  })

  fastify.get('/*', {
    config: { access: 'presence' },
    schema: {
      params: ChannelParamsSchema,
      response: { 200: ChannelDetailSchema, '4xx': ErrorSchema }
    }
  }, async (request) => {
    return hub.channel(request.params['*'])
  })
}

export default channels
