export { default, type SseHubOptions } from './app.js'
export { Hub, type DeliveredEvent, type HubCounters, type HubEvents, type HubOptions, type HubParts, type PublishResult } from './lib/core/hub.js'
export { type GivenParts, openParts } from './lib/core/parts.js'
export type { Logger } from './lib/base/logger.js'
export type { ChannelDetail, ChannelPage, ChannelSummary, ClientQuery } from './lib/core/presence.js'
export type { PageQuery } from './lib/registry/paging.js'
export type { Broker, PublishedEvent, StartPoint, Deliver, Subscribers, SharedSubscriberIndex } from './lib/broker/broker.js'
export { MemoryBroker } from './lib/broker/memory-broker.js'
export {
  type ClientRegistry, type ClientInfo, type ClientPage, type ClientPresence, type PresenceChange, type PresenceSnapshot,
  type ChannelUse, type ChannelUsePage, type RegisteredConnection, MemoryClientRegistry
} from './lib/registry/registry.js'
export { type HubConfig, type HubConfigInput, HubConfigSchema, resolveConfig } from './lib/config/config.js'
export type { EventInput } from './lib/base/names.js'
export { HubError, ConfigError } from './lib/base/errors.js'
export { serverOptions } from './standalone.js'
export { verifyWebhookSignature, webhookSignature } from './lib/webhooks/signature.js'
export type { WebhookEvent } from './lib/webhooks/events.js'
