import fp from 'fastify-plugin'

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * What a hub route exposes, for the one access check of the hub's routes: `presence` marks
     * the presence reads (`/clients`, `/channels`, `/presence`).
     */
    access?: 'presence'
  }
}

/**
 * The single gate of the hub's routes, keyed by the `access` flag of each route's config, so
 * that no route checks credentials by itself and none can be forgotten.
 */
export default fp(async function accessPlugin (fastify) {
  fastify.addHook('onRequest', async (request) => {
    if (request.routeOptions.config.access === 'presence') {
      // Security (API §5) goes here: presence reads need the static publish token or a JWT whose
      // claim `hub.presence` is true (query `token`, cookie or Bearer), else 401 (missing or
      // invalid) or 403 (valid, without the grant). Open until that issue lands.
    }
  })
}, { name: 'sse-hub-access', fastify: '5.x' })
