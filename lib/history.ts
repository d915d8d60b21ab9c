import type { RetainedEvent } from './broker.js'

/**
 * The retained events of one channel, oldest first, bounded by count and by age.
 * `evictedThrough` remembers the newest event let go, so a resume can tell "nothing missed"
 * from "missed events we no longer have".
 */
export class ChannelHistory {
  private readonly events: RetainedEvent[] = []
  /** seq of the newest event dropped from this history (0: none yet). */
  evictedThrough = 0

  /**
   * @param maxEvents events kept, at most; 0 keeps none
   * @param maxAge ms an event is kept; 0 keeps events regardless of age
   */
  constructor (private readonly maxEvents: number, private readonly maxAge: number) {}

  get size (): number {
    return this.events.length
  }

  push (event: RetainedEvent): void {
    if (this.maxEvents === 0) {
      this.evictedThrough = event.seq
      return
    }
    this.events.push(event)
    if (this.events.length > this.maxEvents) this.evictedThrough = this.events.shift()!.seq
  }

  /** Drops events older than the age limit. */
  prune (now: number): void {
    if (this.maxAge === 0) return
    const oldest = now - this.maxAge
    let dropped = 0
    while (dropped < this.events.length && this.events[dropped].publishedAt < oldest) dropped++
    if (dropped > 0) this.evictedThrough = this.events.splice(0, dropped)[dropped - 1].seq
  }

  /**
   * Appends to `out` the events after `seq`, oldest first.
   * @returns false when some event after `seq` has already been dropped (the caller cannot resume)
   */
  collectAfter (seq: number, out: RetainedEvent[]): boolean {
    if (this.evictedThrough > seq) return false
    let low = 0
    let high = this.events.length
    while (low < high) {
      const mid = (low + high) >>> 1
      if (this.events[mid].seq <= seq) low = mid + 1
      else high = mid
    }
    for (let i = low; i < this.events.length; i++) out.push(this.events[i])
    return true
  }
}
