import { EventEmitter } from 'node:events'
import { idempotencyKeyReused } from '../base/errors.js'
import { type Logger, silentLogger } from '../base/logger.js'
import { type CheckedEvents, checkEvents, type EventInput } from '../base/names.js'
import { batchDigest, type Broker, type OnceOutcome, type PublishedEvent, serialiseBatch } from '../broker/broker.js'
import { IdempotencyKeys } from '../broker/idempotency-keys.js'
import type { HubConfig } from '../config/config.js'
import type { PageQuery } from '../registry/paging.js'
import type { ClientInfo, ClientPage, ClientPresence, ClientRegistry } from '../registry/registry.js'
import { lastEventPayload } from '../wire/sse.js'
import { type ChannelDetail, type ChannelPage, type ClientQuery, Presence } from './presence.js'
import type { Stats } from './schemas.js'
import { Streams } from './streams.js'

/** The limits and timings a hub runs with (documented in `HubConfigSchema`). */
export type HubOptions = Pick<HubConfig,
  'heartbeatInterval' | 'retry' | 'historySize' | 'historyTtl' | 'maxConnections' |
  'maxChannelsPerSubscription' | 'maxEventsPerPublish' | 'bodyLimit' | 'maxBufferedBytes' | 'slowClientTimeout' |
  'presenceInterval' | 'maxRetainedChannels' | 'idempotencyWindow' | 'maxIdempotencyKeys'>

/** What a hub runs on (built by `openParts`: in memory, or in Redis for a cluster). */
export interface HubParts {
  broker: Broker
  registry: ClientRegistry
  logger?: Logger
}

/**
 * The key of the hub's streams (`Streams`), which its own routes drive; the package does not export it.
 * @internal
 */
export const STREAMS = Symbol('sse-hub.streams')

/**
 * The key of `Hub`'s publish of a checked batch, for the hub's own route (see `publish`); not exported by the package.
 * @internal
 */
export const PUBLISH_CHECKED = Symbol('sse-hub.publishChecked')

/** The reply to a publish: how many events were accepted and their ids, in order. */
export interface PublishResult {
  published: number
  ids: string[]
}

/**
 * A publish's `Idempotency-Key` and who sent it: keys are kept per publisher (the subject of its
 * token; publishers without one share one set of keys).
 * @internal
 */
export interface PublishKey {
  key: string
  /** The `sub` of the publisher's grant, if it has one. */
  publisher?: string
}

/** The reply to a publish, and, for one with an `Idempotency-Key`, whether it was the key's first reply again (nothing published). @internal */
export interface CheckedPublishResult extends PublishResult {
  replayed?: boolean
}

/**
 * What the hub tells the embedding app, e.g. `hub.on('join', ({ clientId }) => ...)`. A listener
 * that throws is logged and does not disturb delivery.
 */
export interface HubEvents {
  /** A clientId opened its first connection (several tabs are one client; in a cluster, on any node). */
  join: [ClientPresence]
  /** A clientId closed its last connection (in a cluster, on every node, or its node died). */
  leave: [{ clientId: string }]
  /** A batch was delivered, in order, as the broker stored it; emitted only while someone listens. */
  publish: [readonly DeliveredEvent[]]
}

/** An event as the `publish` event gives it to the embedding app. */
export interface DeliveredEvent extends EventInput {
  id: string
  /** ms since the epoch */
  publishedAt: number
}

/**
 * A reading of a hub's gauges and counters (`Hub.counters`): what `GET /stats` answers but the
 * status, each field described in `StatsSchema`.
 */
export type HubCounters = Omit<Stats, 'status'>

type Listener<K extends keyof HubEvents> = (...args: HubEvents[K]) => void

/**
 * The hub, as an app sees it (`app.hub`): publish, the last event of a channel, who is online,
 * and the events `join`, `leave` and `publish`. It hands publishes to the broker, and what the
 * broker delivers to this process's streams (`Streams`), which frame each event once and write it
 * to every stream of its channel.
 */
export class Hub {
  /**
   * The streams of this process, driven by the hub's own routes.
   * @internal
   */
  readonly [STREAMS]: Streams
  private readonly broker: Broker
  private readonly registry: ClientRegistry
  private readonly presence: Presence
  private readonly logger: Logger
  private readonly emitter = new EventEmitter()
  /** The Idempotency-Keys of publishes, when the broker keeps none itself. */
  private readonly idempotencyKeys: IdempotencyKeys | undefined
  private published = 0

  constructor (readonly options: HubOptions, parts: HubParts) {
    this.broker = parts.broker
    this.registry = parts.registry
    this.logger = parts.logger ?? silentLogger
    this.presence = new Presence(this.registry, this.broker, options, ({ join, clientId, channels }) => {
      // Made only for a listener: nothing per connect while nobody listens.
      if (this.emitter.listenerCount(join ? 'join' : 'leave') === 0) return
      if (join) this.notify('join', { clientId, channels: [...channels] })
      else this.notify('leave', { clientId })
    })
    const streams = new Streams(options, this.broker, this.presence, this.logger)
    this[STREAMS] = streams
    this.broker.onDeliver(this.deliver, { here: streams.isSubscribed, everywhere: this.registry.subscriberIndex })
    this.broker.onGap?.(streams.restart)
    if (this.broker.publishOnce === undefined) this.idempotencyKeys = new IdempotencyKeys(options.idempotencyWindow, options.maxIdempotencyKeys)
  }

  /** Resolves once the broker and the registry are ready (in a cluster: following every node's streams). */
  async ready (): Promise<void> {
    await Promise.all([this.broker.ready?.(), this.registry.ready?.()])
  }

  /** Listens to `join`, `leave` or `publish`; the event's name and arguments are checked by the types. */
  on<K extends keyof HubEvents> (event: K, listener: Listener<K>): this {
    this.emitter.on(event, listener as (...args: unknown[]) => void)
    return this
  }

  /** As `on`, for the next event only. */
  once<K extends keyof HubEvents> (event: K, listener: Listener<K>): this {
    this.emitter.once(event, listener as (...args: unknown[]) => void)
    return this
  }

  /** Removes a listener given to `on` or `once`. */
  off<K extends keyof HubEvents> (event: K, listener: Listener<K>): this {
    this.emitter.off(event, listener as (...args: unknown[]) => void)
    return this
  }

  /**
   * Publishes a batch, all or nothing. Throws a `HubError` (400) at once, before anything is
   * published, when any event is invalid (checked at run time too: callers may be plain JS);
   * otherwise resolves with the ids once the broker stored it.
   */
  publish (events: readonly EventInput[]): Promise<PublishResult> {
    return this[PUBLISH_CHECKED](checkEvents(events, this.options.maxEventsPerPublish))
  }

  /**
   * `publish` for a batch already checked (`checkEvents`, or the publish route's schema and
   * `checkEventNames`): each event is checked once, and the hub's route does not pay twice.
   * With an `Idempotency-Key` (while `idempotencyWindow` is not 0), once per key and publisher
   * within the window: a key kept with the same events answers the first publish's ids and
   * publishes nothing (`replayed`); with other events it is a 422. An empty batch publishes
   * nothing and keeps no key.
   * @internal
   */
  [PUBLISH_CHECKED] (events: CheckedEvents, once?: PublishKey): Promise<CheckedPublishResult> {
    if (once !== undefined && events.length > 0 && this.options.idempotencyWindow > 0) return this.publishOnce(events, once)
    return this.broker.publish(events).then((published) => {
      this.published += published.length
      return { published: published.length, ids: published.map((event) => event.id) }
    })
  }

  private async publishOnce (events: CheckedEvents, { key, publisher }: PublishKey): Promise<CheckedPublishResult> {
    // A key holds no space: the first one ends it.
    const scoped = publisher === undefined ? key : `${key} ${publisher}`
    const window = this.options.idempotencyWindow
    const outcome: OnceOutcome = this.idempotencyKeys === undefined
      ? await this.broker.publishOnce!(events, scoped, window)
      : await this.idempotencyKeys.publishOnce(scoped, batchDigest(serialiseBatch(events)), () => this.broker.publish(events))
    if (outcome.outcome === 'reused') throw idempotencyKeyReused(key, window)
    if (outcome.outcome === 'replayed') return { published: outcome.ids.length, ids: outcome.ids, replayed: true }
    this.published += outcome.events.length
    return { published: outcome.events.length, ids: outcome.events.map((event) => event.id), replayed: false }
  }

  /** The `response` of `GET /lastEvent`: the JSON string of the channel's last `{type, payload}`, or `"{}"`. */
  async lastEvent (channelName: string): Promise<string> {
    return lastEventPayload(await this.broker.lastEvent(channelName))
  }

  /** A page of connected clients in clientId order (`GET /clients`); a bad query throws a 400 `HubError`. */
  clients (query: ClientQuery = {}): Promise<ClientPage> {
    return this.presence.clients(query)
  }

  /** One connected client (`GET /clients/:clientId`), or undefined. */
  client (clientId: string): Promise<ClientInfo | undefined> {
    return this.presence.client(clientId)
  }

  /** A page of the channels with subscribers, in name order (`GET /channels`). */
  channels (query: PageQuery = {}): Promise<ChannelPage> {
    return this.presence.channels(query)
  }

  /** Who is on a channel and its last event (`GET /channels/:name`). */
  channel (name: string): Promise<ChannelDetail> {
    return this.presence.channel(name)
  }

  /** Open streams of this process (subscribers, presence watchers, firehose readers). */
  get connectionCount (): number {
    return this[STREAMS].size
  }

  /**
   * What this process holds and has done since start, read on demand (metrics, the dashboard):
   * open streams, distinct clientIds and channels among its subscriber streams (presence watchers
   * are streams, not clients), and its counters. Counting the clients walks the streams, so it is
   * for a scrape, not for a path that runs per event.
   */
  counters (): HubCounters {
    const streams = this[STREAMS]
    const { delivered, replayed, slowDisconnects, refused } = streams.counts
    return {
      connections: streams.size,
      clients: streams.clientCount(),
      channels: streams.channelCount,
      published: this.published,
      delivered,
      replayed,
      slowDisconnects,
      refused: { ...refused }
    }
  }

  /** What `/health` says: `ok`, else why a load balancer should send no client here. */
  status (): 'ok' | 'draining' | 'broker-down' {
    if (this[STREAMS].draining) return 'draining'
    return this.broker.healthy?.() === false ? 'broker-down' : 'ok'
  }

  /** True from `drain()` on: health reports 503 and subscribes are refused. */
  get draining (): boolean {
    return this[STREAMS].draining
  }

  /** Turns health to 503 and refuses new subscribes; open streams keep running until `close`. */
  drain (): void {
    this[STREAMS].draining = true
  }

  /**
   * Ends every stream (their clients reconnect elsewhere with their Last-Event-ID) and stops the
   * broker and the registry. The plugin ends the streams first and closes once the requests in
   * flight were answered, so that a publish being received still reaches the broker.
   */
  async close (): Promise<void> {
    this[STREAMS].endAll()
    await Promise.all([this.broker.close(), this.registry.close?.()])
  }

  /** The broker's delivery: fan-out first, then the embedding app's `publish` listeners, if any. */
  private readonly deliver = (events: readonly PublishedEvent[], more?: boolean): void => {
    this[STREAMS].fanOut(events, more)
    // Mapped only for a listener: nothing per event while nobody listens.
    if (events.length > 0 && this.emitter.listenerCount('publish') > 0) {
      this.notify('publish', events.map(({ id, channelName, type, payload, publishedAt }) => ({ id, channelName, type, payload, publishedAt })))
    }
  }

  /** Emits to the embedding app; a listener that throws must not break a connect, close or delivery. */
  private notify<K extends keyof HubEvents> (event: K, ...args: HubEvents[K]): void {
    try {
      this.emitter.emit(event, ...args)
    } catch (err) {
      this.logger.warn(`a hub '${event}' listener threw: ${(err as Error).message}`)
    }
  }
}
