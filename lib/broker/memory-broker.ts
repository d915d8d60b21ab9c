import { randomBytes } from 'node:crypto'
import { type Broker, DEFAULT_MAX_RETAINED_CHANNELS, type Deliver, type LastEvent, type PublishedEvent, type RetainedEvent, type StartPoint, seqOf, serialiseBatch, type Subscribers } from './broker.js'
import { ChannelHistory } from './history.js'
import { packedMap } from '../base/arrays.js'
import type { EventInput } from '../base/names.js'
import { type ChannelState, RetainedChannels } from './retained-channels.js'
import { eventFrame } from '../wire/sse.js'

export interface MemoryBrokerOptions {
  /** Events retained per channel for resume. */
  historySize: number
  /** ms an event is retained for resume; 0: no age limit. */
  historyTtl: number
  /**
   * ms between sweeps that drop events past `historyTtl` from channels nobody publishes to or
   * resumes from any more (the others drop them as they go).
   * @default historyTtl, from 1 s to 1 min
   */
  sweepInterval?: number
  /**
   * Channels that keep a last event and history; past it the least recently published one without
   * subscribers is forgotten.
   * @default 100000
   */
  maxRetainedChannels?: number
}

/**
 * The single-process broker: numbering, history and last events live in this process.
 * Ids are `<epoch>-<seq>`; the epoch is random per broker, so an id from before a restart is
 * recognised as unknown instead of being mistaken for a position in the new sequence.
 */
export class MemoryBroker implements Broker {
  private readonly epoch = randomBytes(4).toString('hex')
  private seq = 0
  private deliver: Deliver = () => {}
  private hasSubscribers: (channelName: string) => boolean = () => false
  private readonly channels: RetainedChannels
  private readonly sweeper: NodeJS.Timeout | undefined

  constructor (private readonly options: MemoryBrokerOptions) {
    const limit = options.maxRetainedChannels ?? DEFAULT_MAX_RETAINED_CHANNELS
    this.channels = new RetainedChannels(limit, (channelName) => this.hasSubscribers(channelName))
    if (options.historyTtl > 0) {
      const interval = options.sweepInterval ?? Math.min(Math.max(options.historyTtl, 1000), 60_000)
      this.sweeper = setInterval(() => this.sweep(), interval).unref()
    }
  }

  /**
   * Events held for resume, over all channels: for tests.
   * @internal
   */
  get retainedCount (): number {
    let count = 0
    for (const { history } of this.channels.values()) count += history?.size ?? 0
    return count
  }

  /**
   * Channels that keep a last event (at most `maxRetainedChannels` unless the others have subscribers): for tests.
   * @internal
   */
  get retainedChannels (): number {
    return this.channels.size
  }

  onDeliver (deliver: Deliver, subscribers: Subscribers): void {
    this.deliver = deliver
    this.hasSubscribers = subscribers.here
  }

  async publish (inputs: readonly EventInput[]): Promise<PublishedEvent[]> {
    // Serialise the whole batch first: a payload JSON cannot express rejects the batch untouched.
    const data = serialiseBatch(inputs)
    const now = Date.now()
    const events = packedMap(inputs, ({ channelName, type, payload }, i): PublishedEvent => {
      const seq = ++this.seq
      const id = `${this.epoch}-${seq}`
      return { id, seq, channelName, type, payload, publishedAt: now, frame: eventFrame(id, type, data[i]) }
    })
    for (const event of events) {
      const { id, seq, channelName, type, payload } = event
      const state = this.channels.publish({ id, seq, channelName, type, payload, publishedAt: now })
      if (this.options.historySize === 0) state.evictedThrough = seq
      else this.historyOf(state, now).push(event)
    }
    // Room for one eviction per new channel and as many channels with subscribers stepped over.
    this.channels.trim(2 * events.length + 16)
    this.deliver(events)
    return events
  }

  async lastEvent (channelName: string): Promise<LastEvent | undefined> {
    return this.channels.get(channelName)?.last
  }

  async startPoint (channelNames: readonly string[], lastEventId: string | undefined): Promise<StartPoint> {
    const headSeq = this.seq
    const after = seqOf(this.epoch, lastEventId)
    if (after !== undefined && after <= headSeq) {
      const missed = this.collectMissed(channelNames, after)
      if (missed !== undefined) return { resumed: true, missed, headSeq }
    }
    return {
      resumed: false,
      lastEvents: packedMap(channelNames, (name) => this.channels.get(name)?.last),
      headSeq,
      headId: `${this.epoch}-${headSeq}`
    }
  }

  async close (): Promise<void> {
    clearInterval(this.sweeper)
    this.channels.clear()
  }

  private collectMissed (channelNames: readonly string[], after: number): RetainedEvent[] | undefined {
    const now = Date.now()
    const missed: RetainedEvent[] = []
    for (const name of channelNames) {
      const state = this.channels.get(name)
      if (state === undefined) {
        if (after < this.channels.forgottenThrough) return undefined
        continue
      }
      this.prune(state, now)
      if (state.history === undefined) {
        if (state.evictedThrough > after) return undefined
      } else if (!state.history.collectAfter(after, missed)) {
        return undefined
      }
    }
    if (channelNames.length > 1) missed.sort((a, b) => a.seq - b.seq)
    return missed
  }

  private historyOf (state: ChannelState, now: number): ChannelHistory {
    let history = state.history
    if (history === undefined) {
      history = new ChannelHistory(this.options.historySize, this.options.historyTtl)
      history.evictedThrough = state.evictedThrough
      state.history = history
    } else {
      history.prune(now)
    }
    return history
  }

  /** Drops a channel's expired events; an emptied history goes, all but the seq it let go of. */
  private prune (state: ChannelState, now: number): void {
    const history = state.history
    if (history === undefined) return
    history.prune(now)
    if (history.size > 0) return
    state.evictedThrough = history.evictedThrough
    state.history = undefined
  }

  /** Drops expired events everywhere. */
  private sweep (): void {
    const now = Date.now()
    for (const state of this.channels.values()) this.prune(state, now)
  }
}
