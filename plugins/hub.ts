import fp from 'fastify-plugin'
import type { HubConfig } from '../lib/config/config.js'
import { Hub, type HubParts } from '../lib/core/hub.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The SSE hub of this context: publish, lastEvent, drain, counters. */
    hub: Hub
  }
}

export interface HubPluginOptions {
  config: HubConfig
  /** A broker or registry the app gives; the hub makes in-memory ones for the others. */
  parts?: Pick<HubParts, 'broker' | 'registry'>
}

/**
 * Decorates the instance with `hub`, once its broker is ready (a cluster broker reads the
 * events of every node from then on). Streams are ended in `preClose`: Fastify waits for open
 * responses before `onClose` runs, so ending them there would make `close()` hang.
 */
export default fp<HubPluginOptions>(async function hubPlugin (fastify, { config, parts = {} }) {
  const hub = new Hub(config, { ...parts, logger: fastify.log })
  await hub.broker.ready?.()
  fastify.decorate('hub', hub)
  fastify.addHook('preClose', async () => {
    await hub.close()
  })
}, { name: 'sse-hub-core', fastify: '5.x' })
