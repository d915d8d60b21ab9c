import { randomUUID } from 'node:crypto'
import type { Broker, PublishedEvent } from './broker.js'
import type { HubConfig } from './config.js'
import { type CloseReason, Connection } from './connection.js'
import { MemoryBroker } from './memory-broker.js'
import { checkEvents, type EventInput } from './names.js'
import { type ClientRegistry, MemoryClientRegistry } from './registry.js'
import type { SseSink } from './sink.js'
import { HEARTBEAT_FRAME, lastEventFrame, lastEventPayload, registeredFrame, retryFrame } from './sse.js'

/** The limits and timings a hub runs with (documented in `HubConfigSchema`). */
export type HubOptions = Pick<HubConfig,
  'heartbeatInterval' | 'retry' | 'historySize' | 'historyTtl' | 'maxConnections' |
  'maxChannelsPerSubscription' | 'maxEventsPerPublish' | 'bodyLimit' | 'maxBufferedBytes'>

/** The subset of a pino/Fastify logger the hub uses. */
export interface Logger {
  debug (msg: string): void
  info (msg: string): void
  warn (msg: string): void
}

export interface HubParts {
  /** Default: a `MemoryBroker` (one process). */
  broker?: Broker
  /** Default: a `MemoryClientRegistry` (one process). */
  registry?: ClientRegistry
  logger?: Logger
}

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
}

/** Why a subscribe is turned away for now (answered with `retry:` so browsers come back). */
export type Refusal = 'draining' | 'max-connections'

const silentLogger: Logger = { debug () {}, info () {}, warn () {} }

/**
 * The hub: accepts publishes, hands them to the broker, and fans what the broker delivers out to
 * the connections of this process. One publish reaches each connection as a single write of
 * frames that were built once per event.
 */
export class Hub {
  readonly broker: Broker
  readonly registry: ClientRegistry
  /** Counters since start. */
  readonly stats = {
    published: 0,
    delivered: 0,
    replayed: 0,
    slowDisconnects: 0,
    refused: { draining: 0, 'max-connections': 0 } satisfies Record<Refusal, number>
  }

  private readonly subscribers = new Map<string, Set<Connection>>()
  private readonly connections = new Set<Connection>()
  /** Connections with frames queued since the last flush; reused to avoid an allocation per tick. */
  private readonly dirty: Connection[] = []
  private flushScheduled = false
  private readonly heartbeat: NodeJS.Timeout
  private readonly logger: Logger
  private isDraining = false

  constructor (readonly options: HubOptions, parts: HubParts = {}) {
    this.broker = parts.broker ?? new MemoryBroker(options)
    this.registry = parts.registry ?? new MemoryClientRegistry()
    this.logger = parts.logger ?? silentLogger
    this.broker.onDeliver(this.fanOut)
    this.heartbeat = setInterval(this.sendHeartbeats, options.heartbeatInterval).unref()
  }

  /** Open streams of this process. */
  get connectionCount (): number {
    return this.connections.size
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
    const checked = checkEvents(events, this.options.maxEventsPerPublish)
    return this.broker.publish(checked).then((published) => {
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
    const { channelNames, clientId, lastEventId } = request
    const connection = new Connection(sink, clientId, channelNames, this.options.maxBufferedBytes, this.detach)
    this.connections.add(connection)
    this.registry.add(connection)
    for (const name of channelNames) {
      let set = this.subscribers.get(name)
      if (set === undefined) {
        set = new Set()
        this.subscribers.set(name, set)
      }
      set.add(connection)
    }

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
      connection.start(frames, start.headSeq)
    } else {
      const frames = [registeredFrame(clientId, false, retry, start.headId)]
      start.lastEvents.forEach((last, i) => frames.push(lastEventFrame(channelNames[i], last)))
      connection.start(frames, start.headSeq)
    }
    return connection
  }

  /** Turns health to 503 and refuses new subscribes; open streams keep running until `close`. */
  drain (): void {
    this.isDraining = true
  }

  /** Ends every stream (clients reconnect elsewhere with their Last-Event-ID) and stops the broker. */
  async close (): Promise<void> {
    this.drain()
    clearInterval(this.heartbeat)
    for (const connection of this.connections) connection.close('shutdown')
    await this.broker.close()
  }

  /**
   * Queues each event's shared frame on every connection subscribed to its channel. The writes
   * happen once per event-loop turn (`flushDirty`), so all the batches published in one turn
   * reach a connection in a single write.
   */
  private readonly fanOut = (events: readonly PublishedEvent[]): void => {
    const dirty = this.dirty
    for (const event of events) {
      const subscribers = this.subscribers.get(event.channelName)
      if (subscribers === undefined) continue
      for (const connection of subscribers) {
        if (connection.enqueue(event)) dirty.push(connection)
      }
    }
    if (dirty.length > 0 && !this.flushScheduled) {
      this.flushScheduled = true
      setImmediate(this.flushDirty)
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
    this.registry.remove(connection)
    for (const name of connection.channelNames) {
      const set = this.subscribers.get(name)
      if (set === undefined) continue
      set.delete(connection)
      if (set.size === 0) this.subscribers.delete(name)
    }
    if (reason === 'slow') {
      this.stats.slowDisconnects++
      this.logger.debug(`disconnected slow client ${connection.clientId}: over maxBufferedBytes`)
    }
  }

  private readonly sendHeartbeats = (): void => {
    for (const connection of this.connections) {
      if (!connection.wroteRecently) connection.writeNow(HEARTBEAT_FRAME)
      connection.wroteRecently = false
    }
  }
}
