import type { Redis } from 'ioredis'
import type { Logger } from '../base/logger.js'
import type { Broker } from '../broker/broker.js'
import { MemoryBroker } from '../broker/memory-broker.js'
import { RedisBroker } from '../broker/redis-broker.js'
import type { HubConfig } from '../config/config.js'
import { connectRedis, logOutages, whenReady } from '../redis/connection.js'
import { type ClientRegistry, MemoryClientRegistry } from '../registry/registry.js'
import { RedisClientRegistry } from '../registry/redis-registry.js'
import { MemoryWebhookFeed } from '../webhooks/memory-feed.js'
import { RedisWebhookFeed } from '../webhooks/redis-feed.js'
import { MAX_QUEUED, WebhookSender } from '../webhooks/sender.js'
import { packageVersion } from '../config/package-version.js'

/** What an app may give the hub instead of what it would build. */
export interface GivenParts {
  broker?: Broker
  registry?: ClientRegistry
  /** Cluster mode on the app's Redis client (ioredis), never closed by the hub. Else `redisUrl` opens one. */
  redis?: Redis
}

/** The parts a hub runs on. */
export interface HubRuntimeParts {
  broker: Broker
  registry: ClientRegistry
  /** The presence webhooks' sender, with `webhookUrl`; closed by `release`. */
  webhooks: WebhookSender | undefined
  /** Stops the webhooks and closes what was opened here (a Redis connection for `redisUrl`), after the hub closed. */
  release: () => Promise<void>
}

/**
 * Builds the broker and registry of a hub, the same way for one process and for a cluster: given
 * parts as they are, the others in Redis when there is one (a client given, or `redisUrl`),
 * else in memory. A Redis is ready before this resolves, so a failing one stops the start.
 */
export async function openParts (config: HubConfig, given: GivenParts, logger: Logger): Promise<HubRuntimeParts> {
  const owned = given.redis === undefined && config.redisUrl !== undefined ? await connectRedis(config.redisUrl) : undefined
  if (owned !== undefined) logOutages(owned, logger)
  if (given.redis !== undefined) await whenReady(given.redis)
  const redis = given.redis ?? owned
  const { redisPrefix: prefix } = config
  const broker = given.broker ?? (redis === undefined
    ? new MemoryBroker(config)
    : new RedisBroker({ redis, prefix, historySize: config.historySize, historyTtl: config.historyTtl, maxRetainedChannels: config.maxRetainedChannels, logger }))
  // The webhooks are made from the registry's changes, which Redis then keeps until they are sent.
  const changeBacklog = config.webhookUrl === undefined ? undefined : MAX_QUEUED
  const registry = given.registry ?? (redis === undefined
    ? new MemoryClientRegistry()
    : new RedisClientRegistry({ redis, prefix, presenceTtl: config.presenceTtl, logger, changeBacklog }))
  const webhooks = openWebhooks(config, registry, redis, logger)
  return {
    broker,
    registry,
    webhooks,
    release: async () => {
      await webhooks?.close()
      await owned?.quit()
    }
  }
}

/** With `webhookUrl`: a sender fed by this process's registry, or in a cluster by the node holding the sender lease. */
function openWebhooks (config: HubConfig, registry: ClientRegistry, redis: Redis | undefined, logger: Logger): WebhookSender | undefined {
  const { webhookUrl: url, webhookSecret: secret, webhookDebounce: debounce, webhookRetryFor: retryFor } = config
  if (url === undefined || secret === undefined) return undefined
  const feed = registry instanceof RedisClientRegistry && redis !== undefined ? new RedisWebhookFeed(redis, config.redisPrefix, logger) : new MemoryWebhookFeed(registry)
  return new WebhookSender({ url, secret, debounce, retryFor, userAgent: `fastify-sse-hub/${packageVersion()}`, logger }, feed)
}
