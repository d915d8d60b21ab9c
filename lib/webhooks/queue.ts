import type { QueuedEvent } from './events.js'

/**
 * The webhook events not yet sent, in the order their changes were made. A leave (`client.left`,
 * `channel.vacated`) waits `debounce` ms for its subject to return; a return within it undoes
 * both, so a page reload sends nothing. The events behind a waiting leave wait with it: events go
 * out in order. Past `max` events the oldest are dropped, and counted.
 */
export class WebhookQueue {
  private items: QueuedEvent[] = []
  private head = 0
  /** Events in `items` from `head` on that are not cancelled. */
  private live = 0
  /** The leave of each subject that may still be undone. */
  private readonly leaves = new Map<string, QueuedEvent>()
  /** Events dropped for room. */
  dropped = 0
  /** The number of the last change whose events were pushed. */
  lastSeq = 0

  constructor (private readonly debounce: number, private readonly max: number) {}

  get size (): number {
    return this.live
  }

  /** When the oldest event waiting was made (ms), or undefined. */
  get oldestAt (): number | undefined {
    return this.first()?.at
  }

  /** Adds the events of one change; a return undoes the waiting leave of its subject. */
  push (events: readonly QueuedEvent[], seq: number): void {
    this.lastSeq = seq
    for (const event of events) {
      const leave = this.leaves.get(event.subject)
      if (event.enter && leave !== undefined && event.at - leave.at <= this.debounce) {
        leave.cancelled = true
        this.leaves.delete(event.subject)
        this.live--
        continue
      }
      if (!event.enter) this.leaves.set(event.subject, event)
      this.items.push(event)
      this.live++
    }
    while (this.live > this.max) {
      this.forget(this.takeFirst() as QueuedEvent)
      this.dropped++
    }
  }

  /** ms from `now` until the first event may go (0: now), or undefined when there is none. */
  readyIn (now: number): number | undefined {
    const first = this.first()
    if (first === undefined) return undefined
    return first.enter ? 0 : Math.max(0, first.at + this.debounce - now)
  }

  /** Takes up to `limit` events from the front that may go at `now` (every one with `all`, as at a stop). */
  take (limit: number, now: number, all = false): QueuedEvent[] {
    const batch: QueuedEvent[] = []
    while (batch.length < limit) {
      const first = this.first()
      if (first === undefined || (!all && !first.enter && first.at + this.debounce > now)) break
      this.takeFirst()
      this.forget(first)
      batch.push(first)
    }
    return batch
  }

  /** The number of the last change all of whose events left the queue. */
  get settledSeq (): number {
    const first = this.first()
    return first === undefined ? this.lastSeq : first.seq - 1
  }

  /** Empties the queue (another node sends from now on). */
  clear (): void {
    this.items = []
    this.head = 0
    this.live = 0
    this.leaves.clear()
  }

  private first (): QueuedEvent | undefined {
    while (this.head < this.items.length && this.items[this.head].cancelled) this.head++
    return this.items[this.head]
  }

  private takeFirst (): QueuedEvent | undefined {
    const first = this.first()
    if (first === undefined) return undefined
    this.head++
    this.live--
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    return first
  }

  private forget (event: QueuedEvent): void {
    if (this.leaves.get(event.subject) === event) this.leaves.delete(event.subject)
  }
}
