import { randomUUID } from 'node:crypto'
import { packedMap } from '../base/arrays.js'
import type { Logger } from '../base/logger.js'
import type { Broker, PublishedEvent } from '../broker/broker.js'
import type { HubConfig } from '../config/config.js'
import type { SseSink } from '../wire/sink.js'
import { lastEventText, registeredText, retryText } from '../wire/sse.js'
import { type CloseReason, Connection } from './connection.js'
import type { Presence } from './presence.js'
import { type Renewal, StreamExpiry } from './stream-expiry.js'
import { StreamMonitor } from './stream-monitor.js'
import { SubscriberIndex } from './subscriber-index.js'

/** The options the streams run with (documented in `HubConfigSchema`). */
export type StreamOptions = Pick<HubConfig, 'heartbeatInterval' | 'retry' | 'maxConnections' | 'maxBufferedBytes' | 'slowClientTimeout'>

export interface SubscribeRequest {
  channelNames: readonly string[]
  /** Kept for the stream's lifetime: a string of its own, not a slice of the request URL (see `ownCopy`). */
  clientId: string
  /** From `Last-Event-ID` or `lastEventId`: where the client left off. */
  lastEventId?: string
  /** `presence=1`: the stream also gets the compat `online-presence` list, on connect and on change. */
  presence?: boolean
  /** When the subscriber's token expires (ms since the epoch): the stream ends then, unless `renew` says it holds on. */
  expiresAt?: number
  /** Asks for the grant again at `expiresAt` (a grant of `authUrl`). */
  renew?: Renewal
}

/** Why a subscribe is turned away for now (answered with `retry:` so browsers come back). */
export type Refusal = 'draining' | 'max-connections' | 'rate-limit' | 'broker-down' | 'auth-unavailable'

/** ms a stream ended at shutdown gets to send what it has left before it is reset. */
export const SHUTDOWN_GRACE = 1000

/**
 * The open streams of this process, what the hub's own routes drive: subscriber streams,
 * `/presence` watchers and `/firehose` readers. It fans each delivered batch out: every event's
 * shared frame is queued on the streams of its channel, and each stream gets what was queued in
 * one write per event-loop turn. Not part of the package's API: an app reaches the hub through `Hub`.
 */
export class Streams {
  /** Counters since start, read through `Hub.counters`. */
  readonly counts = {
    delivered: 0,
    replayed: 0,
    slowDisconnects: 0,
    refused: { draining: 0, 'max-connections': 0, 'rate-limit': 0, 'broker-down': 0, 'auth-unavailable': 0 } satisfies Record<Refusal, number>
  }

  /** True from `drain` on: new subscribes are refused. */
  draining = false
  private readonly subscribers = new SubscriberIndex()
  private readonly connections = new Set<Connection>()
  /** `/firehose` streams: every event of every channel. */
  private readonly firehoses = new Set<Connection>()
  /** Streams with frames queued since the last flush; reused to avoid an allocation per turn. */
  private readonly dirty: Connection[] = []
  private flushScheduled = false
  private readonly monitor: StreamMonitor
  private readonly expiry = new StreamExpiry<Connection>()

  constructor (
    private readonly options: StreamOptions,
    private readonly broker: Broker,
    private readonly presence: Presence,
    private readonly logger: Logger
  ) {
    this.monitor = new StreamMonitor(this.connections, options, logger)
  }

  /** Open streams of this process. */
  get size (): number {
    return this.connections.size
  }

  /** Channels with at least one subscriber stream here. */
  get channelCount (): number {
    return this.subscribers.size
  }

  /** Whether a stream of this process is on the channel (the broker's `here`). */
  readonly isSubscribed = (channelName: string): boolean => this.subscribers.has(channelName)

  /** Distinct clientIds among the subscriber streams: walks them, so for a scrape, not per event. */
  clientCount (): number {
    const clientIds = new Set<string>()
    for (const connection of this.connections) {
      if (connection.clientId !== '') clientIds.add(connection.clientId)
    }
    return clientIds.size
  }

  /** Whether a new subscribe must be turned away for now, and why. */
  refusal (): Refusal | undefined {
    if (this.draining) return 'draining'
    if (this.connections.size >= this.options.maxConnections) return 'max-connections'
    if (this.broker.healthy?.() === false) return 'broker-down'
    return undefined
  }

  /**
   * Answers a refused subscribe: only a `retry:` between one and three times the configured
   * delay, so that refused browsers come back spread out, and the end of the stream.
   */
  refuse (sink: SseSink, reason: Refusal): void {
    this.counts.refused[reason]++
    sink.open(retryText(Math.round(this.options.retry * (1 + 2 * Math.random()))), [])
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
    const { clientId } = request
    const connection = this.subscribers.join(request.channelNames, (channelNames) =>
      new Connection(sink, clientId, channelNames, this.monitor, this.detach))
    const { channelNames } = connection
    this.connections.add(connection)
    this.presence.add(connection)
    if (request.expiresAt !== undefined) this.expiry.add(connection, request.expiresAt, request.renew)

    let start
    try {
      start = await this.broker.startPoint(channelNames, request.lastEventId)
    } catch (err) {
      connection.close('shutdown')
      throw err
    }
    const retry = this.options.retry
    // `registered` and the snapshots as one text, built for this stream alone.
    let opening = registeredText(clientId, start.resumed, retry, start.resumed ? undefined : start.headId)
    if (!start.resumed) start.lastEvents.forEach((last, i) => { opening += lastEventText(channelNames[i], last) })
    // Resumed: what the client missed; not resumed, an id of an earlier era: the current era's retained events.
    const missed = start.missed ?? []
    const frames = packedMap(missed, (event) => event.frame)
    this.counts.replayed += missed.length
    connection.start(opening, frames, start.headSeq, start.era)
    // After the opening frames; not when the stream closed while they were read.
    if (request.presence === true && this.connections.has(connection)) this.presence.followOnline(connection)
    return connection
  }

  /**
   * Starts a `GET /presence` stream on a sink whose response head was sent: a snapshot of the
   * clients (only those on one of `channelNames` when given), then `join` and `leave`. It is a
   * stream like the others (heartbeats, slow-client limit, counted against `maxConnections`,
   * ended by `endAll`) but not a client: the registry never sees it.
   */
  async watchPresence (sink: SseSink, channelNames?: readonly string[]): Promise<Connection> {
    const connection = new Connection(sink, '', channelNames ?? [], this.monitor, this.detach)
    connection.kind = 'presence'
    this.connections.add(connection)
    await this.presence.watch(connection, channelNames)
    return connection
  }

  /**
   * Starts a `GET /firehose` stream on a sink whose response head was sent: every event published
   * on any channel from now on (in a cluster, on any node), as the same frames subscribers get,
   * after a first `retry:` line. No snapshots, no resume; a stream but not a client, as a watcher.
   */
  watchAll (sink: SseSink): Connection {
    const connection = new Connection(sink, '', [], this.monitor, this.detach)
    connection.kind = 'firehose'
    this.connections.add(connection)
    this.firehoses.add(connection)
    // Seqs start at 1: every event delivered from now on is live for it.
    connection.start(retryText(this.options.retry), [], 0)
    return connection
  }

  /**
   * Queues each event's shared frame on every stream subscribed to its channel and on every
   * firehose. The writes happen once per event-loop turn (`flushDirty`), so all the batches
   * delivered in one turn reach a stream in a single write; while the broker says more batches
   * follow (`more`), once they have all come.
   */
  readonly fanOut = (events: readonly PublishedEvent[], more = false): void => {
    const dirty = this.dirty
    for (const event of events) this.subscribers.enqueue(event, dirty)
    // One size check per batch while no firehose is open.
    if (this.firehoses.size > 0) this.fanOutAll(events)
    if (dirty.length > 0 && !this.flushScheduled && !more) {
      this.flushScheduled = true
      setImmediate(this.flushDirty)
    }
  }

  /**
   * Ends every stream after what it has queued (clients reconnect elsewhere with their
   * Last-Event-ID). A stream whose client does not take the rest within `SHUTDOWN_GRACE` is reset
   * then, so that the server's own close does not wait for it.
   */
  endAll (): void {
    this.draining = true
    this.monitor.close()
    this.expiry.close()
    this.presence.close()
    for (const connection of this.connections) connection.close('shutdown')
    if (this.connections.size > 0) {
      setTimeout(() => {
        for (const connection of this.connections) connection.reset()
      }, SHUTDOWN_GRACE).unref()
    }
  }

  /**
   * Streams that cannot be continued (events that did not reach this node) are ended gracefully:
   * their clients come back with their Last-Event-ID and resume from history or get the
   * snapshots, never a stream with a hole.
   */
  readonly restart = (why: string): void => {
    this.logger.warn(`${why}: this node's ${this.connections.size} streams are ended, their clients resume from history or get the snapshots`)
    for (const connection of this.connections) connection.close('shutdown')
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
    this.counts.delivered += delivered
  }

  /** Takes a closed stream out: a subscriber off its channels and presence, a watcher or firehose off its list. */
  private readonly detach = (connection: Connection, reason: CloseReason): void => {
    if (!this.connections.delete(connection)) return
    this.monitor.forget(connection)
    this.expiry.forget(connection)
    if (connection.kind === 'subscriber') {
      this.presence.remove(connection)
      this.subscribers.leave(connection)
    } else {
      this.presence.unwatch(connection)
      this.firehoses.delete(connection)
    }
    if (reason === 'slow') this.counts.slowDisconnects++
  }
}
