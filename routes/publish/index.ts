import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ErrorSchema, PublishReplySchema, publishBodySchema } from '../../lib/core/schemas.js'

/**
 * `POST /publish {"events":[...]}`: a batch for any number of channels, all or nothing.
 * The hub checks every event, the broker numbers and stores them, and each subscriber gets the
 * events meant for it in one write (see `Hub.publish`). Behind the hub's one access check: a
 * token that covers every channel of the batch.
 */
const publish: FastifyPluginAsyncTypebox = async (fastify) => {
  const { hub } = fastify

  fastify.post('/', {
    config: { access: 'publish' },
    bodyLimit: hub.options.bodyLimit,
    schema: {
      body: publishBodySchema(hub.options.maxEventsPerPublish),
      response: { 200: PublishReplySchema, '4xx': ErrorSchema }
    }
  }, async (request) => {
    return hub.publish(request.body.events)
  })
}

export default publish
