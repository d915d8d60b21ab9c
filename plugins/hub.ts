import fp from 'fastify-plugin'
import type { Redis } from 'ioredis'
import { RedisBroker } from '../lib/broker/redis-broker.js'
import { connectRedis, logOutages, whenReady } from '../lib/redis/connection.js'
import type { HubConfig } from '../lib/config/config.js'
import { Hub, type HubParts } from '../lib/core/hub.js'
import { RedisClientRegistry } from '../lib/registry/redis-registry.js'

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
  /** A Redis client the app gives for cluster mode; the plugin never closes it. */
  redis?: Redis
}

/**
 * Decorates the instance with `hub`, once its broker and registry are ready (in a cluster they
 * follow the events and the presence changes of every node from then on). Streams are ended in
 * `preClose`: Fastify waits for open responses before `onClose` runs, so ending them there would
 * make `close()` hang. The broker, the registry and Redis are closed in `onClose`, once the
 * requests in flight were answered.
 */
export default fp<HubPluginOptions>(async function hubPlugin (fastify, { config, parts = {}, redis: given }) {
  // Cluster mode: a client the app gave, or one of the plugin's own for redisUrl, ready before the app listens.
  const owned = given === undefined && config.redisUrl !== undefined ? await connectRedis(config.redisUrl) : undefined
  if (owned !== undefined) logOutages(owned, fastify.log)
  if (given !== undefined) await whenReady(given)
  const redis = given ?? owned
  const broker = parts.broker ?? (redis === undefined
    ? undefined
    : new RedisBroker({ redis, prefix: config.redisPrefix, historySize: config.historySize, historyTtl: config.historyTtl, maxRetainedChannels: config.maxRetainedChannels, logger: fastify.log }))
  const registry = parts.registry ?? (redis === undefined
    ? undefined
    : new RedisClientRegistry({ redis, prefix: config.redisPrefix, presenceTtl: config.presenceTtl, logger: fastify.log }))
  const hub = new Hub(config, { ...parts, broker, registry, logger: fastify.log })
  await Promise.all([hub.broker.ready?.(), hub.registry.ready?.()])
  fastify.decorate('hub', hub)
  fastify.addHook('preClose', async () => { hub.endStreams() })
  // After the server stopped and answered the requests in flight: a publish being received at the stop still reaches Redis.
  fastify.addHook('onClose', async () => {
    await hub.close()
    await owned?.quit()
  })
}, { name: 'sse-hub-core', fastify: '5.x' })
