import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import { HubError } from '../base/errors.js'
import type { Logger } from '../base/logger.js'
import type { EventInput } from '../base/names.js'
import { parseJson } from '../wire/json.js'
import { eventFrame } from '../wire/sse.js'
import { transaction, whenReady } from '../redis/connection.js'
import { type RedisKeys, redisKeys } from '../redis/keys.js'
import { type StreamEntry, StreamReader } from '../redis/stream-reader.js'
import { type Broker, DEFAULT_MAX_RETAINED_CHANNELS, type Deliver, type LastEvent, type PublishedEvent, type RetainedEvent, type StartPoint, parseId, serialiseBatch, type Subscribers } from './broker.js'

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

/**
 * Publishes, in one round trip and atomically: numbers each batch from the shared counter,
 * records each event as its channel's last event and in its channel's history (a stream whose
 * entry ids are the seqs, each entry naming the previous seq of its channel), and appends each
 * batch to the delivery stream that every node reads. Several batches go in one call when they
 * were waiting for the previous call: a node reading the stream then finds them all at once.
 * Fails with NOEPOCH before the epoch exists (EPOCH_SCRIPT makes it).
 * Channel keys are built here from the prefix: one Redis, not a Redis Cluster.
 * A channel's history expires as a whole `historyTtl` after its last event. Past
 * `maxRetainedChannels` channels, the least recently published ones without a subscriber on any
 * node (the registry's `presence:subscribers`) are forgotten, and the `forgotten` key keeps the
 * last seq they had: a channel published again names it as its previous seq, so that a resume
 * from before it is refused rather than given a hole.
 * Each delivery entry names its epoch: a node behind at a restart tells the old epoch's last
 * entries from the new one's first.
 * KEYS: seq, epoch, delivery stream, channels by last seq, forgotten, the subscriber index.
 * ARGV: the prefixes of last-event and history keys, now, historySize, backlog, historyTtl,
 * maxRetainedChannels, then for each batch its number of events and channel, type, data for
 * each of them. Returns the epoch and each batch's first seq.
 */
const PUBLISH_SCRIPT = `
local lastPrefix, historyPrefix, now, historySize, backlog = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
local ttl, maxRetained = tonumber(ARGV[6]), tonumber(ARGV[7])
local epoch = redis.call('GET', KEYS[2])
if not epoch then return redis.error_reply('NOEPOCH there is no epoch yet') end
local reply = {epoch}
local at, published, last = 8, 0, 0
while at <= #ARGV do
  local count = tonumber(ARGV[at])
  at = at + 1
  local first = redis.call('INCRBY', KEYS[1], count) - count + 1
  local batch = {'p', now, 'e', epoch}
  for i = 0, count - 1 do
    local channel, kind, data = ARGV[at + 3 * i], ARGV[at + 1 + 3 * i], ARGV[at + 2 + 3 * i]
    local seq = first + i
    local lastKey = lastPrefix .. channel
    local previous = redis.call('HGET', lastKey, 's') or redis.call('GET', KEYS[5]) or '0'
    redis.call('HSET', lastKey, 's', seq, 't', kind, 'd', data, 'p', now)
    redis.call('ZADD', KEYS[4], seq, channel)
    if historySize > 0 then
      local historyKey = historyPrefix .. channel
      redis.call('XADD', historyKey, 'MAXLEN', historySize, seq .. '-0', 't', kind, 'd', data, 'p', now, 'v', previous)
      if ttl > 0 then redis.call('PEXPIRE', historyKey, ttl) end
    end
    local n = #batch
    batch[n + 1], batch[n + 2], batch[n + 3], batch[n + 4], batch[n + 5], batch[n + 6] = 'c', channel, 't', kind, 'd', data
  end
  redis.call('XADD', KEYS[3], 'MAXLEN', backlog, first .. '-0', unpack(batch))
  reply[#reply + 1] = first
  at = at + 3 * count
  published = published + count
  last = first + count - 1
end
local excess = redis.call('ZCARD', KEYS[4]) - maxRetained
local looked = 0
while excess > 0 and looked < published + 16 do
  looked = looked + 1
  local oldest = redis.call('ZRANGE', KEYS[4], 0, 0, 'WITHSCORES')
  local channel, lastSeq = oldest[1], tonumber(oldest[2])
  if redis.call('HEXISTS', KEYS[6], channel) == 1 then
    redis.call('ZADD', KEYS[4], last, channel)
  else
    redis.call('DEL', lastPrefix .. channel, historyPrefix .. channel)
    redis.call('ZREM', KEYS[4], channel)
    if lastSeq > tonumber(redis.call('GET', KEYS[5]) or '0') then redis.call('SET', KEYS[5], lastSeq) end
    excess = excess - 1
  end
end
return reply
`

/**
 * The epoch, made anew whenever the Redis process is not the one that made the current one: a
 * Redis that restarted may have come back with less than it acknowledged (an AOF synced every
 * second, an older snapshot, a replica that had not caught up), and would then number new
 * events with seqs it had given before. It records the seq the new epoch numbers after, and the
 * epoch it replaces among the past ones. Returns the epoch and the delivery stream entry after
 * which its batches start.
 * KEYS: epoch, the run id of the Redis that made it, its first entry, delivery stream, seq, the
 * seq it numbers after, past epochs. ARGV: a new epoch.
 */
const EPOCH_SCRIPT = `
local run = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
local epoch = redis.call('GET', KEYS[1])
if epoch and redis.call('GET', KEYS[2]) == run then return {epoch, redis.call('GET', KEYS[3]) or '0-0'} end
local top = redis.call('XREVRANGE', KEYS[4], '+', '-', 'COUNT', 1)
local start = top[1] and top[1][1] or '0-0'
if epoch then redis.call('SADD', KEYS[7], epoch) end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], run)
redis.call('SET', KEYS[3], start)
redis.call('SET', KEYS[6], redis.call('GET', KEYS[5]) or '0')
return {ARGV[1], start}
`

/** Reads of the delivery stream whose batches the hub holds at most before it writes them. */
const MAX_HELD_READS = 4

/** A batch waiting to be stored, and its caller. */
interface WaitingBatch {
  inputs: readonly EventInput[]
  data: string[]
  resolve: (published: PublishedEvent[]) => void
  reject: (err: Error) => void
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
  /** Id of the last delivery stream entry this node delivered. */
  private lastDelivered: string | undefined
  private reading: Promise<void> | undefined
  private readonly started: Promise<void>
  private markStarted: () => void = () => {}
  private failStart: (err: Error) => void = () => {}
  private failing = false
  /** False from each (re)connection until the epoch was checked: publishes and reads wait for it. */
  private epochChecked = false
  private readonly reader: StreamReader
  private readonly keys: RedisKeys
  /** The registry's hash of the channels with subscribers on any node. */
  private subscriberIndex = ''
  /** The era of each epoch this node saw, numbered in the order it saw them. */
  private readonly eras = new Map<string, number>()
  private readonly onReconnect = (): void => { this.epochChecked = false }
  /** Batches waiting for the publish call in flight to return. */
  private readonly waiting: WaitingBatch[] = []
  private storing = false

  constructor (private readonly options: RedisBrokerOptions) {
    const { prefix, redis } = options
    this.keys = redisKeys(prefix)
    redis.defineCommand('sseHubPublish', { numberOfKeys: 6, lua: PUBLISH_SCRIPT })
    redis.defineCommand('sseHubEpoch', { numberOfKeys: 7, lua: EPOCH_SCRIPT })
    redis.on('ready', this.onReconnect)
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
    this.reading ??= this.readLoop()
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
    return this.unlessDown(() => this.store(inputs, data))
  }

  /** Queues a batch for the next publish call: at once when none is in flight, else when it returns. */
  private store (inputs: readonly EventInput[], data: string[]): Promise<PublishedEvent[]> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ inputs, data, resolve, reject })
      if (!this.storing) this.storeWaiting().catch(() => {})
    })
  }

  /** Sends the waiting batches, up to `MAX_EVENTS_PER_CALL` events per call, one call at a time. */
  private async storeWaiting (): Promise<void> {
    this.storing = true
    while (this.waiting.length > 0) {
      let events = 0
      let take = 0
      while (take < this.waiting.length && (take === 0 || events + this.waiting[take].inputs.length <= MAX_EVENTS_PER_CALL)) {
        events += this.waiting[take++].inputs.length
      }
      const group = this.waiting.splice(0, take)
      try {
        const published = await this.storeGroup(group)
        group.forEach((batch, i) => batch.resolve(published[i]))
      } catch (err) {
        for (const batch of group) batch.reject(err as Error)
      }
    }
    this.storing = false
  }

  private async storeGroup (group: readonly WaitingBatch[]): Promise<PublishedEvent[][]> {
    if (!this.epochChecked) await this.currentEpoch()
    const now = Date.now()
    const args: string[] = [this.keys.last, this.keys.history, String(now), String(this.options.historySize), String(this.options.deliveryBacklog ?? 10_000), String(this.options.historyTtl), String(this.options.maxRetainedChannels ?? DEFAULT_MAX_RETAINED_CHANNELS)]
    for (const { inputs, data } of group) {
      args.push(String(inputs.length))
      inputs.forEach(({ channelName, type }, i) => args.push(channelName, type, data[i]))
    }
    const publish = async (): Promise<[string, ...number[]]> => await (this.options.redis as Redis & { sseHubPublish: (...args: string[]) => Promise<[string, ...number[]]> })
      .sseHubPublish(this.keys.seq, this.keys.epoch, this.keys.delivery, this.keys.channels, this.keys.forgotten, this.subscriberIndex, ...args)
    const [epoch, ...firsts] = await publish().catch(async (err: Error) => {
      // The keys were deleted since the epoch was checked: make a new one, once.
      if (!err.message.startsWith('NOEPOCH')) throw err
      await this.currentEpoch()
      return await publish()
    })
    const era = this.eraOf(epoch)
    return group.map(({ inputs, data }, b) => inputs.map(({ channelName, type, payload }, i) => {
      const seq = firsts[b] + i
      const id = `${epoch}-${seq}`
      return { id, seq, era, channelName, type, payload, publishedAt: now, frame: eventFrame(id, type, data[i]) }
    }))
  }

  async lastEvent (channelName: string): Promise<LastEvent | undefined> {
    return this.unlessDown(() => this.readLastEvent(channelName))
  }

  private async readLastEvent (channelName: string): Promise<LastEvent | undefined> {
    const [epoch, fields] = await transaction(this.options.redis.multi().get(this.keys.epoch).hgetall(this.lastKey(channelName)))
    // A last event is written together with the epoch: with one, there is the other.
    return lastEventOf(epoch as string, channelName, fields as Record<string, string>)
  }

  /**
   * Reads, in one MULTI, the head seq and for each channel its last event and its history after
   * the client's position: a consistent picture, whatever other nodes publish meanwhile.
   */
  async startPoint (channelNames: readonly string[], lastEventId: string | undefined): Promise<StartPoint> {
    return this.unlessDown(() => this.readStartPoint(channelNames, lastEventId))
  }

  private async readStartPoint (channelNames: readonly string[], lastEventId: string | undefined): Promise<StartPoint> {
    // The history after the client's position is read in the same transaction, before its epoch is known to match.
    if (!this.epochChecked) await this.currentEpoch()
    const position = parseId(lastEventId)
    let view = await this.readView(channelNames, position?.seq, position?.epoch)
    // No epoch yet: nothing was ever published under this prefix, and the stream needs one for its id.
    const epoch = view.epoch ?? (await this.currentEpoch())[0]
    const era = this.eraOf(epoch)
    if (position?.epoch === epoch && position.seq <= view.headSeq) {
      const missed = collectMissed(epoch, channelNames, position.seq, view.lasts, view.histories, this.options.historyTtl, view.forgotten)
      if (missed !== undefined) return { resumed: true, missed, headSeq: view.headSeq, era }
    }
    let missed: RetainedEvent[] | undefined
    if (position !== undefined && position.epoch !== epoch && (view.pastEpoch || this.eras.has(position.epoch))) {
      // An id from before Redis restarted: what was published since can still be given, after the snapshots.
      const since = await this.readView(channelNames, view.epochSeq, undefined)
      if (since.epoch === epoch) {
        view = since
        missed = sinceEpoch(epoch, view.histories, this.options.historyTtl)
      }
    }
    return {
      resumed: false,
      lastEvents: channelNames.map((name, i) => lastEventOf(epoch, name, view.lasts[i])),
      ...(missed === undefined ? {} : { missed }),
      headSeq: view.headSeq,
      era,
      headId: `${epoch}-${view.headSeq}`
    }
  }

  /**
   * Reads, in one MULTI, the epoch, the head seq and for each channel its last event and its
   * history after `after` (when given): a consistent picture, whatever other nodes publish meanwhile.
   */
  private async readView (channelNames: readonly string[], after: number | undefined, pastEpoch: string | undefined): Promise<StartView> {
    const multi = this.options.redis.multi().get(this.keys.epoch).get(this.keys.seq).get(this.keys.forgotten).get(this.keys.epochSeq)
      .sismember(this.keys.pastEpochs, pastEpoch ?? '')
    for (const name of channelNames) {
      multi.hgetall(this.lastKey(name))
      if (after !== undefined) multi.xrange(this.historyKey(name), `${after + 1}-0`, '+')
    }
    const results = await transaction(multi)
    const view: StartView = {
      epoch: results[0] as string | null,
      headSeq: Number(results[1] ?? 0),
      forgotten: Number(results[2] ?? 0),
      epochSeq: Number(results[3] ?? 0),
      pastEpoch: results[4] === 1,
      lasts: [],
      histories: []
    }
    const perChannel = after === undefined ? 1 : 2
    channelNames.forEach((_, i) => {
      view.lasts.push(results[5 + i * perChannel] as Record<string, string>)
      if (after !== undefined) view.histories.push(results[6 + i * perChannel] as Array<[string, string[]]>)
    })
    return view
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
      throw new HubError(503, 'SSE_HUB_BROKER_DOWN', `broker: Redis did not answer (${(err as Error).message}); retry later`)
    }
  }

  async close (): Promise<void> {
    this.options.redis.removeListener('ready', this.onReconnect)
    this.reader.close()
    await this.reading
  }

  /**
   * Delivers every batch of the delivery stream from where this node started, in order. After a
   * lost connection, and when nothing came for a while, it checks the epoch first: when a new one
   * began (Redis restarted or lost its data), its entries may be numbered from below where this
   * node read, so it reads on from the new epoch's first entry, unless entries of the old one
   * before it are left to deliver. Each entry names its epoch, and the streams go on.
   */
  private async readLoop (): Promise<void> {
    // Live from now: what came before is for resume, not for this node's streams.
    /** The epoch as of the last check. */
    let checked: string
    try {
      await Promise.all([whenReady(this.options.redis), this.reader.ready()])
      checked = (await this.currentEpoch())[0]
      this.eraOf(checked)
      this.lastDelivered = await this.deliveryHead()
    } catch (err) {
      this.failStart(new Error(`Redis did not answer at start (${(err as Error).message})`))
      return
    }
    /** The epoch of the last entry delivered, and the seq the next one should start with. */
    let epoch = checked
    let next: number | undefined
    let checkEpoch = false
    /**
     * A blocking read answers as soon as one entry is there, and more of a burst come meanwhile:
     * after it, reads that do not block take what came, and the hub writes once one finds nothing.
     */
    let catchingUp = false
    /** Reads since the hub last wrote: under a steady stream, it writes at least every few reads. */
    let reads = 0
    const release = (): void => {
      if (catchingUp) this.deliver([], false)
      catchingUp = false
      reads = 0
    }
    const deliverEntry = ([entryId, fields]: StreamEntry): void => {
      this.lastDelivered = entryId
      const batch = batchOf(fields, entrySeq(entryId), checked, (of) => this.eraOf(of))
      if (batch.epoch !== epoch) {
        epoch = batch.epoch
        next = undefined
      }
      // Entries trimmed before this node read them: fell behind by more than the backlog.
      if (next !== undefined && batch.events[0].seq > next) this.gap(`${batch.events[0].seq - next} events did not reach this node (it fell behind the cluster's delivery stream)`)
      next = batch.events[batch.events.length - 1].seq + 1
      this.deliver(batch.events, true)
    }
    this.markStarted()
    await this.reader.follow({
      after: () => this.lastDelivered ?? '0-0',
      catchingUp: () => catchingUp,
      beforeRead: async () => {
        if (!checkEpoch) return
        const [now, start] = await this.currentEpoch().catch((): [string, undefined] => [checked, undefined])
        checkEpoch = start === undefined
        if (now === checked || start === undefined) return
        checked = now
        this.eraOf(now)
        if (entrySeq(this.lastDelivered) >= entrySeq(start)) this.lastDelivered = start
        this.options.logger?.warn('a new epoch began in Redis (it restarted, or lost its data): open streams go on with its events; ids from before no longer resume')
      },
      onEntries: (entries) => {
        this.failing = false
        for (const entry of entries) deliverEntry(entry)
        catchingUp = true
        if (++reads >= MAX_HELD_READS) release()
      },
      onNothing: () => {
        this.failing = false
        // Nothing new for a while: Redis may have lost its data, and its new entries have smaller ids.
        if (!catchingUp) checkEpoch = true
        release()
      },
      onLost: () => {
        release()
        this.failing = true
        checkEpoch = true
      }
    })
    release()
  }

  /** The era of an epoch: the next one the first time this node sees it. */
  private eraOf (epoch: string): number {
    let era = this.eras.get(epoch)
    if (era === undefined) {
      era = this.eras.size
      this.eras.set(epoch, era)
    }
    return era
  }

  private async deliveryHead (): Promise<string> {
    const [last] = await this.options.redis.xrevrange(this.keys.delivery, '+', '-', 'COUNT', 1)
    return last?.[0] ?? '0-0'
  }

  /** The epoch and the entry it starts after, made anew when missing or made by another Redis process. */
  private async currentEpoch (): Promise<[string, string]> {
    const [epoch, start] = await (this.options.redis as Redis & { sseHubEpoch: (...args: string[]) => Promise<[string, string]> })
      .sseHubEpoch(this.keys.epoch, this.keys.epochRun, this.keys.epochStart, this.keys.delivery, this.keys.seq, this.keys.epochSeq, this.keys.pastEpochs, randomBytes(4).toString('hex'))
    this.epochChecked = true
    return [epoch, start]
  }

  private lastKey (channelName: string): string {
    return `${this.options.prefix}last:${channelName}`
  }

  private historyKey (channelName: string): string {
    return `${this.options.prefix}history:${channelName}`
  }
}

/** What a start point is made of, read in one transaction. */
interface StartView {
  epoch: string | null
  headSeq: number
  forgotten: number
  /** The seq the current epoch numbers after. */
  epochSeq: number
  /** Whether the epoch asked about is one this Redis replaced. */
  pastEpoch: boolean
  lasts: Array<Record<string, string>>
  histories: Array<Array<[string, string[]]>>
}

/** The seq of a delivery stream entry id (`<first seq>-0`). */
function entrySeq (entryId: string | undefined): number {
  return Number(entryId?.split('-')[0] ?? 0)
}

/**
 * The events of one delivery stream entry: `p` (publishedAt), `e` (epoch; `fallback` for an entry
 * written without it), then `c` (channel), `t` and `d` per event.
 */
function batchOf (fields: string[], first: number, fallback: string, eraOf: (epoch: string) => number): { epoch: string, events: PublishedEvent[] } {
  const publishedAt = Number(fields[1])
  const named = fields[2] === 'e'
  const epoch = named ? fields[3] : fallback
  const era = eraOf(epoch)
  const events: PublishedEvent[] = []
  for (let i = named ? 4 : 2, seq = first; i + 5 < fields.length; i += 6, seq++) {
    const [channelName, type, data] = [fields[i + 1], fields[i + 3], fields[i + 5]]
    const id = `${epoch}-${seq}`
    events.push({ id, seq, era, channelName, type, payload: payloadOf(data), publishedAt, frame: eventFrame(id, type, data) })
  }
  return { epoch, events }
}

/** The retained events of the current epoch on the channels (histories read from its first seq), oldest first. */
function sinceEpoch (epoch: string, histories: Array<Array<[string, string[]]>>, ttl: number): RetainedEvent[] {
  const oldest = ttl > 0 ? Date.now() - ttl : -Infinity
  const events: RetainedEvent[] = []
  for (const entries of histories) {
    for (const [entryId, list] of entries) {
      const fields = fieldsOf(list)
      if (Number(fields.p) < oldest) continue
      const seq = entrySeq(entryId)
      events.push({ seq, publishedAt: Number(fields.p), frame: eventFrame(`${epoch}-${seq}`, fields.t, fields.d) })
    }
  }
  return events.sort((a, b) => a.seq - b.seq)
}

/**
 * The missed events of every channel, oldest first, or undefined when some are gone: each
 * history entry names the previous seq of its channel, so the first one after the client's
 * position must follow on from it, and a channel whose last event is newer must have entries.
 * A channel without a last event may have been forgotten since the position (`forgotten`).
 */
function collectMissed (epoch: string, channelNames: readonly string[], after: number, lasts: Array<Record<string, string>>, histories: Array<Array<[string, string[]]>>, ttl: number, forgotten: number): RetainedEvent[] | undefined {
  const oldest = ttl > 0 ? Date.now() - ttl : -Infinity
  const missed: RetainedEvent[] = []
  for (let c = 0; c < channelNames.length; c++) {
    if (lasts[c]?.s === undefined && after < forgotten) return undefined
    const lastSeq = Number(lasts[c]?.s ?? 0)
    const entries = histories[c] ?? []
    if (lastSeq <= after) continue
    if (entries.length === 0) return undefined
    const first = fieldsOf(entries[0][1])
    if (Number(first.v) > after || Number(first.p) < oldest) return undefined
    for (const [entryId, list] of entries) {
      const fields = fieldsOf(list)
      const seq = Number(entryId.split('-')[0])
      const id = `${epoch}-${seq}`
      missed.push({ seq, publishedAt: Number(fields.p), frame: eventFrame(id, fields.t, fields.d) })
    }
  }
  if (channelNames.length > 1) missed.sort((a, b) => a.seq - b.seq)
  return missed
}

function fieldsOf (list: string[]): Record<string, string> {
  const fields: Record<string, string> = {}
  for (let i = 0; i + 1 < list.length; i += 2) fields[list[i]] = list[i + 1]
  return fields
}

function lastEventOf (epoch: string, channelName: string, fields: Record<string, string> | undefined): LastEvent | undefined {
  if (fields === undefined || fields.s === undefined) return undefined
  const seq = Number(fields.s)
  return { id: `${epoch}-${seq}`, seq, channelName, type: fields.t, payload: payloadOf(fields.d), publishedAt: Number(fields.p) }
}

/** The payload inside an event's `data` (`{"channelName","type","payload"}`). */
function payloadOf (data: string): unknown {
  return (parseJson(data) as { payload: unknown }).payload
}
