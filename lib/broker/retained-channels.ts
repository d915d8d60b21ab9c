import type { LastEvent } from './broker.js'
import type { ChannelHistory } from './history.js'

/** What the memory broker keeps of one channel: its last event and, while it has any, its history. */
export interface ChannelState {
  last: LastEvent
  /** Absent while nothing is retained for resume (historySize 0, or every event expired). */
  history: ChannelHistory | undefined
  /** seq of the newest event of the channel dropped from history: all resume needs once history is gone. */
  evictedThrough: number
  /** Neighbours in publish order, oldest first. */
  older: ChannelState | undefined
  newer: ChannelState | undefined
}

/**
 * The channels that keep state, at most `limit` of them (more only while all the others have
 * subscribers). Past the limit, the channel without subscribers published to least recently is
 * forgotten. A list through the states keeps publish order, so that a publish moves its channel
 * to the end and an eviction takes the oldest in O(1): a Map kept in that order by delete and set
 * would make every eviction skip again the deleted slots at its front, up to the whole table.
 */
export class RetainedChannels {
  private readonly states = new Map<string, ChannelState>()
  private oldest: ChannelState | undefined
  private newest: ChannelState | undefined
  /**
   * The highest seq of a forgotten channel's last event: a channel without state may have had
   * events up to there, so a resume from before it cannot be trusted.
   */
  forgottenThrough = 0

  /**
   * @param limit channels kept, at most, among those without subscribers
   * @param hasSubscribers whether a channel has subscribers on this node; such a channel is never forgotten
   */
  constructor (private readonly limit: number, private readonly hasSubscribers: (channelName: string) => boolean) {}

  get size (): number {
    return this.states.size
  }

  get (channelName: string): ChannelState | undefined {
    return this.states.get(channelName)
  }

  values (): IterableIterator<ChannelState> {
    return this.states.values()
  }

  /** Records a channel's new last event and makes it the most recently published. */
  publish (last: LastEvent): ChannelState {
    let state = this.states.get(last.channelName)
    if (state === undefined) {
      // It may have been forgotten with events up to forgottenThrough: a resume from before stays refused.
      state = { last, history: undefined, evictedThrough: this.forgottenThrough, older: undefined, newer: undefined }
      this.states.set(last.channelName, state)
      this.append(state)
    } else {
      state.last = last
      if (state !== this.newest) {
        this.unlink(state)
        this.append(state)
      }
    }
    return state
  }

  /**
   * Forgets channels while there are more than `limit`, oldest first. A channel with subscribers is
   * moved to the end instead, so it is not met again before all the others. At most `budget`
   * channels are looked at, so that a publish costs O(1) per event even when most channels have
   * subscribers; what is left over is forgotten by the next publishes.
   */
  trim (budget: number): void {
    while (this.states.size > this.limit && budget-- > 0) {
      const state = this.oldest!
      this.unlink(state)
      if (this.hasSubscribers(state.last.channelName)) {
        this.append(state)
      } else {
        this.states.delete(state.last.channelName)
        this.forgottenThrough = Math.max(this.forgottenThrough, state.last.seq)
      }
    }
  }

  clear (): void {
    this.states.clear()
    this.oldest = this.newest = undefined
  }

  private append (state: ChannelState): void {
    state.older = this.newest
    state.newer = undefined
    if (this.newest === undefined) this.oldest = state
    else this.newest.newer = state
    this.newest = state
  }

  private unlink (state: ChannelState): void {
    if (state.older === undefined) this.oldest = state.newer
    else state.older.newer = state.newer
    if (state.newer === undefined) this.newest = state.older
    else state.newer.older = state.older
    state.older = state.newer = undefined
  }
}
