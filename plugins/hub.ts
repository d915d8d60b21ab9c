import fp from 'fastify-plugin'
import type { HubConfig } from '../lib/config/config.js'
import { Hub, STREAMS } from '../lib/core/hub.js'
import { type GivenParts, openParts } from '../lib/core/parts.js'
import type { WebhookSender } from '../lib/webhooks/sender.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The SSE hub of this context: publish, lastEvent, the presence reads, join/leave/publish events. */
    hub: Hub
    /** The presence webhooks' sender, with `webhookUrl` (for the metrics). */
    hubWebhooks: WebhookSender | undefined
  }
}

export interface HubPluginOptions {
  config: HubConfig
  /** A broker, registry or Redis client the app gives; the hub builds the others (and never closes a given client). */
  parts?: GivenParts
}

/**
 * Decorates the instance with `hub`, once its broker and registry are ready (in a cluster they
 * follow the events and the presence changes of every node from then on). Streams are ended in
 * `preClose`: Fastify waits for open responses before `onClose` runs, so ending them there would
 * make `close()` hang. The broker, the registry and Redis are closed in `onClose`, once the
 * requests in flight were answered; then the webhooks (in one process, given one try at the
 * leaves of the streams just ended).
 */
export default fp<HubPluginOptions>(async function hubPlugin (fastify, { config, parts = {} }) {
  const { broker, registry, webhooks, release } = await openParts(config, parts, fastify.log)
  const hub = new Hub(config, { broker, registry, logger: fastify.log })
  await hub.ready()
  fastify.decorate('hub', hub)
  fastify.decorate('hubWebhooks', webhooks)
  fastify.addHook('preClose', async () => { hub[STREAMS].endAll() })
  // After the server stopped and answered the requests in flight: a publish being received at the stop still reaches Redis.
  fastify.addHook('onClose', async () => {
    await hub.close()
    await release()
  })
}, { name: 'sse-hub-core', fastify: '5.x' })
