export { default, type SseHubOptions } from './app.js'
export { Hub, type HubEvents, type HubOptions, type HubParts, type PublishResult, type Logger } from './lib/hub.js'
export type { ChannelDetail, ChannelPage, ChannelSummary, ClientQuery } from './lib/presence.js'
export type { PageQuery } from './lib/paging.js'
export type { Broker, PublishedEvent, StartPoint, Deliver } from './lib/broker.js'
export { MemoryBroker } from './lib/memory-broker.js'
export {
  type ClientRegistry, type ClientInfo, type ClientPage, type ClientPresence, type AddResult, type RemoveResult,
  type ChannelUse, type ChannelUsePage, type RegisteredConnection, MemoryClientRegistry
} from './lib/registry.js'
export { type HubConfig, type HubConfigInput, HubConfigSchema, resolveConfig } from './lib/config.js'
export type { EventInput } from './lib/names.js'
export { HubError, ConfigError } from './lib/errors.js'
export { serverOptions } from './standalone.js'
