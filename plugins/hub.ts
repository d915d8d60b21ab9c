import fp from 'fastify-plugin'
import type { HubConfig } from '../lib/config/config.js'
import { Hub } from '../lib/core/hub.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The SSE hub of this context: publish, lastEvent, drain, counters. */
    hub: Hub
  }
}

export interface HubPluginOptions {
  config: HubConfig
}

/**
 * Decorates the instance with `hub`. Streams are ended in `preClose`: Fastify waits for open
 * responses before `onClose` runs, so ending them there would make `close()` hang.
 */
export default fp<HubPluginOptions>(async function hubPlugin (fastify, { config }) {
  const hub = new Hub(config, { logger: fastify.log })
  fastify.decorate('hub', hub)
  fastify.addHook('preClose', async () => {
    await hub.close()
  })
}, { name: 'sse-hub-core', fastify: '5.x' })
