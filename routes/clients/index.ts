import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { noClient } from '../../lib/base/errors.js'
import { pageLimit } from '../../lib/registry/paging.js'
import { ClientPageSchema, ClientParamsSchema, ClientSchema, ClientsQuerySchema, errorResponses, PRESENCE_READ_ERRORS } from '../../lib/core/schemas.js'

/**
 * `GET /clients` (paged, `?channel=` filters) and `GET /clients/:clientId`: who is connected.
 * The clientId is a wildcard, so that one with a `/` or of 128 characters is found (see ClientParamsSchema).
 * Presence reads: `access: 'presence'` puts them behind the hub's one access check.
 */
const clients: FastifyPluginAsyncTypebox = async (fastify) => {
  const { hub } = fastify

  fastify.get('/', {
    config: { access: 'presence' },
    schema: {
      operationId: 'listClients',
      summary: 'The connected clients, paged, in clientId order',
      querystring: ClientsQuerySchema,
      response: {
        200: ClientPageSchema,
        ...errorResponses({
          400: 'a bad channel, limit or cursor, or a parameter given twice',
          ...PRESENCE_READ_ERRORS,
          503: 'cluster mode: Redis did not answer (SSE_HUB_BROKER_DOWN); retry later'
        })
      }
    }
  }, async (request) => {
    const { channel, limit, cursor } = request.query
    return hub.clients({ channel, limit: pageLimit(limit), cursor })
  })

  fastify.get('/*', {
    config: { access: 'presence' },
    schema: {
      operationId: 'getClient',
      summary: 'One connected client',
      params: ClientParamsSchema,
      response: {
        200: ClientSchema,
        ...errorResponses({
          400: 'not a valid clientId',
          ...PRESENCE_READ_ERRORS,
          404: 'no open connection has this clientId',
          503: 'cluster mode: Redis did not answer (SSE_HUB_BROKER_DOWN); retry later'
        })
      }
    }
  }, async (request) => {
    const clientId = request.params['*']
    const client = await hub.client(clientId)
    if (client === undefined) throw noClient(clientId)
    return client
  })
}

export default clients
