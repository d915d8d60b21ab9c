import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { PUBLISH_CHECKED } from '../../lib/core/hub.js'
import { errorResponses, type PublishBody, PublishReplySchema, publishBodySchema } from '../../lib/core/schemas.js'

/**
 * `POST /publish {"events":[...]}`: a batch for any number of channels, all or nothing.
 * Every event is checked by the body's schema, the broker numbers and stores them, and each subscriber gets the
 * events meant for it in one write (see `Hub.publish`). Behind the hub's one access check: a
 * token that covers every channel of the batch.
 */
const publish: FastifyPluginAsyncTypebox = async (fastify) => {
  const { hub } = fastify

  fastify.post('/', {
    config: { access: 'publish' },
    bodyLimit: hub.options.bodyLimit,
    schema: {
      operationId: 'publish',
      summary: 'Publish a batch of events, to any number of channels, all or nothing',
      body: publishBodySchema(hub.options.maxEventsPerPublish),
      response: {
        200: PublishReplySchema,
        ...errorResponses({
          400: 'the body is not JSON or has no events, an event is bad (its index and the rule named), or too many events: nothing published',
          401: 'no Authorization: Bearer token (a publish reads no other), or an invalid or expired one; with WWW-Authenticate',
          403: 'the JWT does not cover a channel of the batch (hub.publish): nothing published',
          413: 'the body is larger than bodyLimit',
          415: 'the Content-Type is not application/json',
          429: 'publishRateLimit: more publishes from this address in the last second; with Retry-After',
          503: 'cluster mode: Redis did not answer (SSE_HUB_BROKER_DOWN); retry later (the events may have been stored)'
        })
      }
    }
  }, async (request) => {
    // Checked once, by the schema and its names check: the hub does not look again.
    return hub[PUBLISH_CHECKED]((request.body as unknown as PublishBody).events)
  })
}

export default publish
