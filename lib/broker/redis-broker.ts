import type { Redis } from 'ioredis'
import { packedMap } from '../base/arrays.js'
import { brokerDown, HubError } from '../base/errors.js'
import type { Logger } from '../base/logger.js'
import type { EventInput } from '../base/names.js'
import { eventFrame } from '../wire/sse.js'
import { transaction } from '../redis/connection.js'
import { type RedisKeys, redisKeys } from '../redis/keys.js'
import { StreamReader } from '../redis/stream-reader.js'
import { batchDigest, type Broker, DEFAULT_MAX_RETAINED_CHANNELS, type Deliver, idsFrom, type LastEvent, type OnceOutcome, type PublishedEvent, type StartPoint, serialiseBatch, type Subscribers } from './broker.js'
import { followDelivery } from './redis-delivery.js'
import { lastEventOf } from './redis-entries.js'
import { RedisEpochs } from './redis-epoch.js'
import { PUBLISH_SCRIPT, type PublishReply } from './redis-publish-script.js'
import { readStartPoint } from './redis-start-point.js'
import { type StoredBatch, type WaitingBatch, WriteGroups } from './write-groups.js'

export interface RedisBrokerOptions {
  /** A connection for commands; the broker never closes it. */
  redis: Redis
  /** Every key starts with it, so several hubs can share one Redis. */
  prefix: string
  /** Events retained per channel for resume. */
  historySize: number
  /** ms an event is retained for resume; 0: no age limit. */
  historyTtl: number
  /**
   * Batches kept in the stream every node reads: how far a node may fall behind (a slow node, a
   * lost connection) and still deliver everything. Each holds its batch's events, up to a body.
   * @default 10000
   */
  deliveryBacklog?: number
  /**
   * Channels that keep a last event and history; past it the least recently published one
   * without subscribers is forgotten. @default 100000
   */
  maxRetainedChannels?: number
  /** Told when Redis begins a new epoch. */
  logger?: Logger
}

/** Events one publish call carries at most (one batch may carry more: it is never split). */
const MAX_EVENTS_PER_CALL = 1000
/** ms a blocking read of the delivery stream waits before it looks again (closing, a new epoch). */
const READ_BLOCK = 1000
/** Batches one read takes at most: a node catching up reads in steps, not its whole backlog at once. */
const READ_COUNT = 500

/**
 * The cluster broker: numbering, history and last events live in Redis, shared by every node, and
 * every node delivers every batch, in the order Redis numbered them, by reading one stream with
 * blocking reads from the last entry it delivered. A node whose connection drops reads on from
 * there when it is back: nothing lost, nothing twice. Ids are `<epoch>-<seq>`, the epoch kept in
 * Redis: after Redis restarted, ids from before are unknown. Each epoch is an era of this node
 * (numbered in the order it saw them), so that its streams go on across a restart.
 */
export class RedisBroker implements Broker {
  private deliver: Deliver = () => {}
  private gap: (why: string) => void = () => {}
  private reading: Promise<void> | undefined
  private readonly started: Promise<void>
  private markStarted: () => void = () => {}
  private failStart: (err: Error) => void = () => {}
  private failing = false
  private readonly reader: StreamReader
  private readonly keys: RedisKeys
  private readonly epochs: RedisEpochs
  private readonly writes = new WriteGroups((group) => this.storeGroup(group), MAX_EVENTS_PER_CALL)
  /** The registry's hash of the channels with subscribers on any node. */
  private subscriberIndex = ''

  constructor (private readonly options: RedisBrokerOptions) {
    const { prefix, redis } = options
    this.keys = redisKeys(prefix)
    redis.defineCommand('sseHubPublish', { numberOfKeys: 6, lua: PUBLISH_SCRIPT })
    this.epochs = new RedisEpochs(redis, this.keys)
    this.reader = new StreamReader(redis, this.keys.delivery, READ_COUNT, READ_BLOCK)
    this.started = new Promise((resolve, reject) => {
      this.markStarted = resolve
      this.failStart = reject
    })
    // Until a caller awaits `ready()`, a failed start must not be an unhandled rejection.
    this.started.catch(() => {})
  }

  /**
   * Whether a channel has subscribers on this node is not enough here: the publish script reads
   * the registry's index of every node's subscribers, and without one the broker is refused.
   */
  onDeliver (deliver: Deliver, subscribers: Subscribers): void {
    if (subscribers.everywhere === undefined) {
      throw new Error('RedisBroker needs a registry shared by the nodes (RedisClientRegistry): a registry of this process only (MemoryClientRegistry) cannot tell which channels have subscribers on other nodes, and their last events and history would be forgotten')
    }
    this.subscriberIndex = subscribers.everywhere.redisHash
    this.deliver = deliver
    this.reading ??= followDelivery({
      redis: this.options.redis,
      keys: this.keys,
      epochs: this.epochs,
      reader: this.reader,
      deliver: (events, more) => this.deliver(events, more),
      gap: (why) => this.gap(why),
      answered: (ok) => { this.failing = !ok },
      started: this.markStarted,
      failed: this.failStart,
      logger: this.options.logger
    })
  }

  onGap (listener: (why: string) => void): void {
    this.gap = listener
  }

  /** Resolves once this node reads the delivery stream: what is published from then on reaches it. */
  ready (): Promise<void> {
    return this.started
  }

  /**
   * False while either connection to Redis is down, or since a command failed (a Redis that hangs
   * keeps its connections): health answers `broker-down` and subscribes are refused. The next
   * command that succeeds, at the latest the delivery read within a second, clears it.
   */
  healthy (): boolean {
    return !this.failing && this.options.redis.status === 'ready' && this.reader.connection.status === 'ready'
  }

  async publish (inputs: readonly EventInput[]): Promise<PublishedEvent[]> {
    if (inputs.length === 0) return []
    const data = serialiseBatch(inputs)
    return this.unlessDown(() => this.writes.store(inputs, data))
  }

  /**
   * The key is checked and kept in Redis by the publish script, in the call that publishes: a
   * key kept on one node is honoured on every node, and a request whose first is still in flight,
   * on this node or another, gets the first's ids.
   */
  async publishOnce (inputs: readonly EventInput[], key: string, window: number): Promise<OnceOutcome> {
    const data = serialiseBatch(inputs)
    const stored = await this.unlessDown(() => this.writes.store(inputs, data, { key, digest: batchDigest(data), window }))
    return Array.isArray(stored) ? { outcome: 'published', events: stored } : stored
  }

  /** Stores a group of batches in one publish script call. */
  private async storeGroup (group: readonly WaitingBatch[]): Promise<StoredBatch[]> {
    await this.epochs.check()
    const { keys, options } = this
    const now = Date.now()
    const args: string[] = [keys.last, keys.history, keys.idempotency, String(now), String(options.historySize), String(options.deliveryBacklog ?? 10_000), String(options.historyTtl), String(options.maxRetainedChannels ?? DEFAULT_MAX_RETAINED_CHANNELS)]
    for (const { inputs, data, once } of group) {
      if (once === undefined) args.push(String(inputs.length), '')
      else args.push(String(inputs.length), once.key, once.digest, String(once.window))
      inputs.forEach(({ channelName, type }, i) => args.push(channelName, type, data[i]))
    }
    const publish = async (): Promise<PublishReply> => await (options.redis as Redis & { sseHubPublish: (...args: string[]) => Promise<PublishReply> })
      .sseHubPublish(keys.seq, keys.epoch, keys.delivery, keys.channels, keys.forgotten, this.subscriberIndex, ...args)
    const [epoch, ...firsts] = await publish().catch(async (err: Error) => {
      // The keys were deleted since the epoch was checked: make a new one, once.
      if (!err.message.startsWith('NOEPOCH')) throw err
      await this.epochs.current()
      return await publish()
    })
    const era = this.epochs.eraOf(epoch)
    return packedMap(group, ({ inputs, data }, b): StoredBatch => {
      const first = firsts[b]
      if (typeof first === 'string') return first === '' ? { outcome: 'reused' } : { outcome: 'replayed', ids: idsFrom(first, inputs.length) }
      return packedMap(inputs, ({ channelName, type, payload }, i) => {
        const seq = first + i
        const id = `${epoch}-${seq}`
        return { id, seq, era, channelName, type, payload, publishedAt: now, frame: eventFrame(id, type, data[i]) }
      })
    })
  }

  async lastEvent (channelName: string): Promise<LastEvent | undefined> {
    return this.unlessDown(async () => {
      const [epoch, fields] = await transaction(this.options.redis.multi().get(this.keys.epoch).hgetall(this.keys.last + channelName))
      // A last event is written together with the epoch: with one, there is the other.
      return lastEventOf(epoch as string, channelName, fields as Record<string, string>)
    })
  }

  /** Reads the start point in one MULTI: a consistent picture, whatever other nodes publish meanwhile. */
  async startPoint (channelNames: readonly string[], lastEventId: string | undefined): Promise<StartPoint> {
    const source = { redis: this.options.redis, keys: this.keys, epochs: this.epochs, historyTtl: this.options.historyTtl }
    return this.unlessDown(() => readStartPoint(source, channelNames, lastEventId))
  }

  /** Runs a Redis operation; a Redis that does not answer is a 503 that says so. */
  private async unlessDown<T> (operation: () => Promise<T>): Promise<T> {
    try {
      const result = await operation()
      this.failing = false
      return result
    } catch (err) {
      if (err instanceof HubError) throw err
      this.failing = true
      throw brokerDown('broker', `Redis did not answer (${(err as Error).message})`)
    }
  }

  async close (): Promise<void> {
    this.epochs.close()
    this.reader.close()
    await this.reading
  }
}
