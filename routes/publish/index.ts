import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { PUBLISH_CHECKED } from '../../lib/core/hub.js'
import { errorResponses, KeyedPublishReplySchema, type PublishBody, PublishHeadersSchema, PublishReplySchema, publishBodySchema } from '../../lib/core/schemas.js'

const KEY_REUSED: Record<number, string> = {
  422: 'the Idempotency-Key was used within idempotencyWindow for a publish of other events (SSE_HUB_IDEMPOTENCY_KEY_REUSED): nothing published'
}

/**
 * `POST /publish {"events":[...]}`: a batch for any number of channels, all or nothing.
 * Every event is checked by the body's schema, the broker numbers and stores them, and each subscriber gets the
 * events meant for it in one write (see `Hub.publish`). Behind the hub's one access check: a
 * token that covers every channel of the batch. With an `Idempotency-Key` (unless `idempotencyWindow`
 * is 0), once per key and publisher: a retry gets the first reply with `Idempotent-Replayed: true`.
 */
const publish: FastifyPluginAsyncTypebox = async (fastify) => {
  const { hub } = fastify
  const keyed = hub.options.idempotencyWindow > 0

  fastify.post('/', {
    config: { access: 'publish' },
    bodyLimit: hub.options.bodyLimit,
    schema: {
      operationId: 'publish',
      summary: 'Publish a batch of events, to any number of channels, all or nothing',
      body: publishBodySchema(hub.options.maxEventsPerPublish),
      ...(keyed ? { headers: PublishHeadersSchema } : {}),
      response: {
        200: keyed ? KeyedPublishReplySchema : PublishReplySchema,
        ...errorResponses({
          400: `the body is not JSON or has no events, an event is bad (its index and the rule named), or too many events${keyed ? ', or a bad Idempotency-Key' : ''}: nothing published`,
          401: 'no Authorization: Bearer token (a publish reads no other), or an invalid or expired one; with WWW-Authenticate',
          403: 'the JWT does not cover a channel of the batch (hub.publish): nothing published',
          413: 'the body is larger than bodyLimit',
          415: 'the Content-Type is not application/json',
          ...(keyed ? KEY_REUSED : {}),
          429: 'publishRateLimit: more publishes from this address in the last second; with Retry-After',
          503: `cluster mode: Redis did not answer (SSE_HUB_BROKER_DOWN); retry later (the events may have been stored${keyed ? ': a retry with the same Idempotency-Key publishes them once' : ''})`
        })
      }
    }
  }, async (request, reply) => {
    // Checked once, by the schema and its names check: the hub does not look again.
    const { events } = request.body as unknown as PublishBody
    // A string (Node joins a repeated header), checked by PublishHeadersSchema.
    const key = keyed ? request.headers['idempotency-key'] as string | undefined : undefined
    if (key === undefined) return hub[PUBLISH_CHECKED](events)
    const result = await hub[PUBLISH_CHECKED](events, { key, publisher: request.hubPublisher })
    if (result.replayed === true) reply.header('idempotent-replayed', 'true')
    return result
  })
}

export default publish
