import { randomUUID } from 'node:crypto'
import { EventEmitter } from 'node:events'
import type { Broker, PublishedEvent } from '../broker/broker.js'
import { type Logger, silentLogger } from '../base/logger.js'
import type { HubConfig } from '../config/config.js'
import { type CloseReason, Connection } from './connection.js'
import { MemoryBroker } from '../broker/memory-broker.js'
import { type CheckedEvents, checkEvents, type EventInput } from '../base/names.js'
import type { PageQuery } from '../registry/paging.js'
import { type ChannelDetail, type ChannelPage, type ClientQuery, Presence } from './presence.js'
import { type ClientInfo, type ClientPage, type ClientPresence, type ClientRegistry, MemoryClientRegistry } from '../registry/registry.js'
import type { SseSink } from '../wire/sink.js'
import { lastEventFrame, lastEventPayload, registeredFrame, retryFrame } from '../wire/sse.js'
import type { Stats } from './schemas.js'
import { StreamMonitor } from './stream-monitor.js'
import { ownCopy, SubscriberIndex } from './subscriber-index.js'

/** The limits and timings a hub runs with (documented in `HubConfigSchema`). */
export type HubOptions = Pick<HubConfig,
  'heartbeatInterval' | 'retry' | 'historySize' | 'historyTtl' | 'maxConnections' |
  'maxChannelsPerSubscription' | 'maxEventsPerPublish' | 'bodyLimit' | 'maxBufferedBytes' | 'slowClientTimeout' |
  'presenceInterval' | 'maxRetainedChannels'>

export interface HubParts {
  /** Default: a `MemoryBroker` (one process). */
  broker?: Broker
  /** Default: a `MemoryClientRegistry` (one process). */
  registry?: ClientRegistry
  logger?: Logger
}

/** The key of `Hub`'s publish of a checked batch, for the hub's own route (see `publish`). */
export const PUBLISH_CHECKED = Symbol('sse-hub.publishChecked')

/** The reply to a publish: how many events were accepted and their ids, in order. */
export interface PublishResult {
  published: number
  ids: string[]
}

export interface SubscribeRequest {
  channelNames: readonly string[]
  clientId: string
  /** From `Last-Event-ID` or `lastEventId`: where the client left off. */
  lastEventId?: string
  /** `presence=1`: the stream also gets the compat `online-presence` list, on connect and on change. */
  presence?: boolean
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
  publish: [readonly PublishedEvent[]]
}

/** Why a subscribe is turned away for now (answered with `retry:` so browsers come back). */
export type Refusal = 'draining' | 'max-connections' | 'rate-limit' | 'broker-down'

/**
 * A reading of a hub's gauges and counters (`Hub.counters`): what `GET /stats` answers but the
 * status, each field described in `StatsSchema`.
 */
export type HubCounters = Omit<Stats, 'status'>

/** ms a stream ended at shutdown gets to send what it has left before it is reset. */
export const SHUTDOWN_GRACE = 1000

/**
 * The hub: accepts publishes, hands them to the broker, and fans what the broker delivers out to
 * the connections of this process. One publish reaches each connection as a single write of
 * frames that were built once per event.
 */
export class Hub extends EventEmitter<HubEvents> {
  readonly broker: Broker
  readonly registry: ClientRegistry
  /** Counters since start. */
  readonly stats = {
    published: 0,
    delivered: 0,
    replayed: 0,
    slowDisconnects: 0,
    refused: { draining: 0, 'max-connections': 0, 'rate-limit': 0, 'broker-down': 0 } satisfies Record<Refusal, number>
  }

  private readonly subscribers = new SubscriberIndex()
  private readonly connections = new Set<Connection>()
  /** `/firehose` streams: every event of every channel. */
  private readonly firehoses = new Set<Connection>()
  /** Connections with frames queued since the last flush; reused to avoid an allocation per tick. */
  private readonly dirty: Connection[] = []
  private flushScheduled = false
  private readonly monitor: StreamMonitor
  private readonly logger: Logger
  private readonly presence: Presence
  private isDraining = false

  constructor (readonly options: HubOptions, parts: HubParts = {}) {
    super()
    this.broker = parts.broker ?? new MemoryBroker(options)
    this.registry = parts.registry ?? new MemoryClientRegistry()
    this.logger = parts.logger ?? silentLogger
    this.presence = new Presence(this.registry, this.broker, options, ({ join, clientId, channels }) => {
      if (join) this.notify('join', { clientId, channels: [...channels] })
      else this.notify('leave', { clientId })
    })
    this.broker.onDeliver(this.deliver, { here: (channelName) => this.subscribers.has(channelName), everywhere: this.registry.subscriberIndex })
    this.broker.onGap?.(this.restartStreams)
    this.monitor = new StreamMonitor(this.connections, options, this.logger)
  }

  /** Open streams of this process. */
  get connectionCount (): number {
    return this.connections.size
  }

  /**
   * What this process holds and has done since start, read on demand (metrics, the dashboard):
   * open streams, distinct clientIds and channels among its subscriber streams (presence watchers
   * are streams, not clients), and the counters of `stats`. Counting the clients walks the
   * streams, so it is for a scrape, not for a path that runs per event.
   */
  counters (): HubCounters {
    const clientIds = new Set<string>()
    for (const connection of this.connections) {
      if (connection.clientId !== '') clientIds.add(connection.clientId)
    }
    const { published, delivered, replayed, slowDisconnects, refused } = this.stats
    return {
      connections: this.connections.size,
      clients: clientIds.size,
      channels: this.subscribers.size,
      published,
      delivered,
      replayed,
      slowDisconnects,
      refused: { ...refused }
    }
  }

  /** What `/health` says: `ok`, else why a load balancer should send no client here. */
  status (): 'ok' | 'draining' | 'broker-down' {
    if (this.isDraining) return 'draining'
    return this.broker.healthy?.() === false ? 'broker-down' : 'ok'
  }

  /** True from `drain()` on: health reports 503 and subscribes are refused. */
  get draining (): boolean {
    return this.isDraining
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
   * Keyed by a symbol the package does not export, so that an app's batch always goes through `publish`.
   */
  [PUBLISH_CHECKED] (events: CheckedEvents): Promise<PublishResult> {
    return this.broker.publish(events).then((published) => {
      this.stats.published += published.length
      return { published: published.length, ids: published.map((event) => event.id) }
    })
  }

  /** The `response` of `GET /lastEvent`: the JSON string of the channel's last `{type, payload}`, or `"{}"`. */
  async lastEvent (channelName: string): Promise<string> {
    return lastEventPayload(await this.broker.lastEvent(channelName))
  }

  /** Whether a new subscribe must be turned away for now, and why. */
  refusal (): Refusal | undefined {
    if (this.isDraining) return 'draining'
    if (this.connections.size >= this.options.maxConnections) return 'max-connections'
    if (this.broker.healthy?.() === false) return 'broker-down'
    return undefined
  }

  /**
   * Answers a refused subscribe: only a `retry:` between one and three times the configured
   * delay, so that refused browsers come back spread out, and the end of the stream.
   */
  refuse (sink: SseSink, reason: Refusal): void {
    this.stats.refused[reason]++
    sink.write(retryFrame(Math.round(this.options.retry * (1 + 2 * Math.random()))))
    sink.end()
  }

  /** Generates a clientId for a subscriber that did not bring one. */
  newClientId (): string {
    return randomUUID()
  }

  /**
   * Starts a stream on a sink whose response head was already sent: joins the channels at once
   * (live events are held until the opening frames are out), then writes `registered` and either
   * the missed events (resume) or the `lastEvent` snapshots.
   */
  async subscribe (sink: SseSink, request: SubscribeRequest): Promise<Connection> {
    const { lastEventId } = request
    // Copies, not slices of the request URL: the stream keeps them for its lifetime.
    const clientId = ownCopy(request.clientId)
    const connection = this.subscribers.join(request.channelNames, (channelNames) =>
      new Connection(sink, clientId, channelNames, this.monitor, this.detach))
    const { channelNames } = connection
    this.connections.add(connection)
    this.presence.add(connection)

    let start
    try {
      start = await this.broker.startPoint(channelNames, lastEventId)
    } catch (err) {
      connection.close('shutdown')
      throw err
    }
    const retry = this.options.retry
    if (start.resumed) {
      this.stats.replayed += start.missed.length
      const frames = [registeredFrame(clientId, true, retry), ...start.missed.map((event) => event.frame)]
      connection.start(frames, start.headSeq, start.era)
    } else {
      const frames = [registeredFrame(clientId, false, retry, start.headId)]
      start.lastEvents.forEach((last, i) => frames.push(lastEventFrame(channelNames[i], last)))
      for (const event of start.missed ?? []) frames.push(event.frame)
      this.stats.replayed += start.missed?.length ?? 0
      connection.start(frames, start.headSeq, start.era)
    }
    // After the opening frames; not when the stream closed while they were read.
    if (request.presence === true && this.connections.has(connection)) this.presence.followOnline(connection)
    return connection
  }

  /**
   * Starts a `GET /presence` stream on a sink whose response head was sent: a snapshot of the
   * clients (only those on one of `channelNames` when given), then `join` and `leave`. It is a
   * stream like the others (heartbeats, slow-client limit, counted against `maxConnections`,
   * ended by `close`) but not a client: the registry never sees it.
   */
  async watchPresence (sink: SseSink, channelNames?: readonly string[]): Promise<Connection> {
    const connection = new Connection(sink, '', channelNames ?? [], this.monitor, this.detachWatcher)
    connection.kind = 'presence'
    this.connections.add(connection)
    await this.presence.watch(connection, channelNames)
    return connection
  }

  /**
   * Starts a `GET /firehose` stream on a sink whose response head was sent: every event published
   * on any channel from now on (in a cluster, on any node), as the same frames subscribers get,
   * after a first `retry:` line. No snapshots, no resume. Like a presence watcher it is a stream
   * (heartbeats, slow-client limit, counted against `maxConnections`, ended by `close`) but not a
   * client: the registry never sees it.
   */
  watchAll (sink: SseSink): Connection {
    const connection = new Connection(sink, '', [], this.monitor, this.detachWatcher)
    connection.kind = 'firehose'
    this.connections.add(connection)
    this.firehoses.add(connection)
    // Seqs start at 1: every event delivered from now on is live for it.
    connection.start([retryFrame(this.options.retry)], 0)
    return connection
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

  /** Turns health to 503 and refuses new subscribes; open streams keep running until `close`. */
  drain (): void {
    this.isDraining = true
  }

  /**
   * Ends every stream (clients reconnect elsewhere with their Last-Event-ID); publishes still work,
   * so that those in flight are answered before `close`. A stream whose client does not take the
   * rest of its data within `SHUTDOWN_GRACE` is reset then, so that the server's own close does
   * not wait for it.
   */
  endStreams (): void {
    this.drain()
    this.monitor.close()
    this.presence.close()
    for (const connection of this.connections) connection.close('shutdown')
    if (this.connections.size > 0) {
      setTimeout(() => {
        for (const connection of this.connections) connection.reset()
      }, SHUTDOWN_GRACE).unref()
    }
  }

  /** Ends every stream (`endStreams`) and stops the broker and the registry. */
  async close (): Promise<void> {
    this.endStreams()
    await Promise.all([this.broker.close(), this.registry.close?.()])
  }

  /**
   * Queues each event's shared frame on every connection subscribed to its channel. The writes
   * happen once per event-loop turn (`flushDirty`), so all the batches published in one turn
   * reach a connection in a single write; while the broker says more batches follow, once they
   * have all come.
   */
  private readonly fanOut = (events: readonly PublishedEvent[], more = false): void => {
    const dirty = this.dirty
    for (const event of events) this.subscribers.enqueue(event, dirty)
    // One size check per batch while no firehose is open.
    if (this.firehoses.size > 0) this.fanOutAll(events)
    if (dirty.length > 0 && !this.flushScheduled && !more) {
      this.flushScheduled = true
      setImmediate(this.flushDirty)
    }
  }

  /** Queues every event of a batch, in order, on every firehose. */
  private fanOutAll (events: readonly PublishedEvent[]): void {
    for (const connection of this.firehoses) {
      for (const event of events) {
        if (connection.enqueue(event)) this.dirty.push(connection)
      }
    }
  }

  private readonly flushDirty = (): void => {
    this.flushScheduled = false
    let delivered = 0
    for (const connection of this.dirty) delivered += connection.flush()
    this.dirty.length = 0
    this.stats.delivered += delivered
  }

  private readonly detach = (connection: Connection, reason: CloseReason): void => {
    if (!this.connections.delete(connection)) return
    this.monitor.forget(connection)
    this.presence.remove(connection)
    this.subscribers.leave(connection)
    if (reason === 'slow') this.stats.slowDisconnects++
  }

  /** Detaches a stream that is no client: a presence watcher or a firehose. */
  private readonly detachWatcher = (connection: Connection, reason: CloseReason): void => {
    if (!this.connections.delete(connection)) return
    this.monitor.forget(connection)
    this.presence.unwatch(connection)
    this.firehoses.delete(connection)
    if (reason === 'slow') this.stats.slowDisconnects++
  }

  /** The broker's delivery: fan-out first, then the embedding app's `publish` listeners, if any. */
  private readonly deliver = (events: readonly PublishedEvent[], more?: boolean): void => {
    this.fanOut(events, more)
    if (events.length > 0 && this.listenerCount('publish') > 0) this.notify('publish', events)
  }

  /**
   * Streams that cannot be continued (events that did not reach this node) are
   * ended gracefully: their clients come back with their Last-Event-ID, and resume from history
   * or get the snapshots, never a stream with a hole.
   */
  private readonly restartStreams = (why: string): void => {
    this.logger.warn(`${why}: this node's ${this.connections.size} streams are ended, their clients resume from history or get the snapshots`)
    for (const connection of this.connections) connection.close('shutdown')
  }

  /** Emits to the embedding app; a listener that throws must not break a connect, close or delivery. */
  private notify<K extends keyof HubEvents> (event: K, ...args: HubEvents[K]): void {
    try {
      (this.emit as (event: K, ...args: HubEvents[K]) => boolean)(event, ...args)
    } catch (err) {
      this.logger.warn(`a hub '${event}' listener threw: ${(err as Error).message}`)
    }
  }
}
