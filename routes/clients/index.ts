import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { HubError } from '../../lib/core/errors.js'
import { pageLimit } from '../../lib/registry/paging.js'
import { quote } from '../../lib/core/names.js'
import { ClientPageSchema, ClientParamsSchema, ClientSchema, ClientsQuerySchema, ErrorSchema } from '../../lib/core/schemas.js'

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
      querystring: ClientsQuerySchema,
      response: { 200: ClientPageSchema, '4xx': ErrorSchema }
    }
  }, async (request) => {
    const { channel, limit, cursor } = request.query
    return hub.clients({ channel, limit: pageLimit(limit), cursor })
  })

  fastify.get('/*', {
    config: { access: 'presence' },
    schema: {
      params: ClientParamsSchema,
      response: { 200: ClientSchema, '4xx': ErrorSchema }
    }
  }, async (request) => {
    const clientId = request.params['*']
    const client = await hub.client(clientId)
    if (client === undefined) throw new HubError(404, 'SSE_HUB_NO_CLIENT', `clientId: ${quote(clientId)} is not connected`)
    return client
  })
}

export default clients
