import type { RetainedEvent } from './broker.js'

/** Size bounds of the slabs a history copies its frames into (a larger frame gets a slab of its own size). */
const MIN_SLAB_BYTES = 1024
/** The slab of a history's first event: most channels of a hub with many hold one or a few events. */
const FIRST_SLAB_BYTES = 256
const MAX_SLAB_BYTES = 64 * 1024

/**
 * The retained events of one channel, oldest first, bounded by count and by age.
 * `evictedThrough` remembers the newest event let go, so a resume can tell "nothing missed"
 * from "missed events we no longer have".
 *
 * History is most of what a busy hub holds (1000 events per channel by default, over every
 * channel), so it keeps an event as the bytes of its frame, copied into slabs shared by
 * consecutive events, plus five numbers in parallel arrays: no object and no Buffer per event,
 * which would cost more than a typical 200-byte frame. A resume gets views into the slabs. A slab
 * goes when its last event does; the next one is sized to an eighth of what the channel holds,
 * so a quiet channel takes a kilobyte and the part of a slab not yet filled stays small. The first
 * event of an empty history gets arrays of one element and a slab of a quarter kilobyte: a channel
 * that only ever holds one event then costs a few hundred bytes, not the arrays' and slab's first
 * growth step.
 */
export class ChannelHistory {
  private seqs: number[] = []
  /** ms since the epoch */
  private publishedAts: number[] = []
  /** The number of the slab holding each frame: slab `n` is `slabs[n - firstSlab]`. */
  private slabNumbers: number[] = []
  private offsets: number[] = []
  private lengths: number[] = []
  private slabs: Buffer[] = []
  private firstSlab = 0
  /** Bytes filled in the newest slab. */
  private filled = 0
  /** Frame bytes retained. */
  private bytes = 0
  /** seq of the newest event dropped from this history (0: none yet). */
  evictedThrough = 0

  /**
   * @param maxEvents events kept, at most; 0 keeps none
   * @param maxAge ms an event is kept; 0 keeps events regardless of age
   */
  constructor (private readonly maxEvents: number, private readonly maxAge: number) {}

  get size (): number {
    return this.seqs.length
  }

  /** Appends an event, copying its frame: the caller's Buffer is not kept. */
  push (event: RetainedEvent): void {
    if (this.maxEvents === 0) {
      this.evictedThrough = event.seq
      return
    }
    const { frame } = event
    if (this.seqs.length === 0) {
      this.pushFirst(event)
      return
    }
    let slab = this.slabs[this.slabs.length - 1]
    if (slab === undefined || slab.length - this.filled < frame.length) {
      const size = Math.min(MAX_SLAB_BYTES, Math.max(MIN_SLAB_BYTES, this.bytes >> 3))
      slab = Buffer.allocUnsafeSlow(Math.max(size, frame.length))
      this.slabs.push(slab)
      this.filled = 0
    }
    frame.copy(slab, this.filled)
    this.seqs.push(event.seq)
    this.publishedAts.push(event.publishedAt)
    this.slabNumbers.push(this.firstSlab + this.slabs.length - 1)
    this.offsets.push(this.filled)
    this.lengths.push(frame.length)
    this.filled += frame.length
    this.bytes += frame.length
    if (this.seqs.length > this.maxEvents) this.dropOldest(1)
  }

  /** Drops events older than the age limit. */
  prune (now: number): void {
    if (this.maxAge === 0) return
    const oldest = now - this.maxAge
    let count = 0
    while (count < this.publishedAts.length && this.publishedAts[count] < oldest) count++
    if (count > 0) this.dropOldest(count)
  }

  /**
   * Appends to `out` the events after `seq`, oldest first.
   * @returns false when some event after `seq` has already been dropped (the caller cannot resume)
   */
  collectAfter (seq: number, out: RetainedEvent[]): boolean {
    if (this.evictedThrough > seq) return false
    const seqs = this.seqs
    let low = 0
    let high = seqs.length
    while (low < high) {
      const mid = (low + high) >>> 1
      if (seqs[mid] <= seq) low = mid + 1
      else high = mid
    }
    for (let i = low; i < seqs.length; i++) {
      const slab = this.slabs[this.slabNumbers[i] - this.firstSlab]
      const frame = slab.subarray(this.offsets[i], this.offsets[i] + this.lengths[i])
      out.push({ seq: seqs[i], publishedAt: this.publishedAts[i], frame })
    }
    return true
  }

  private pushFirst ({ seq, publishedAt, frame }: RetainedEvent): void {
    const slab = Buffer.allocUnsafeSlow(Math.max(FIRST_SLAB_BYTES, frame.length))
    frame.copy(slab, 0)
    // An empty history holds no slab: they go with their last event.
    this.slabs = [slab]
    this.seqs = [seq]
    this.publishedAts = [publishedAt]
    this.slabNumbers = [this.firstSlab]
    this.offsets = [0]
    this.lengths = [frame.length]
    this.filled = frame.length
    this.bytes = frame.length
  }

  /** Drops the `count` oldest events, and the slabs that held only them. */
  private dropOldest (count: number): void {
    this.evictedThrough = this.seqs[count - 1]
    for (let i = 0; i < count; i++) this.bytes -= this.lengths[i]
    dropFirst(this.seqs, count)
    dropFirst(this.publishedAts, count)
    dropFirst(this.slabNumbers, count)
    dropFirst(this.offsets, count)
    dropFirst(this.lengths, count)
    const unused = this.seqs.length === 0 ? this.slabs.length : this.slabNumbers[0] - this.firstSlab
    if (unused === 0) return
    this.slabs.splice(0, unused)
    this.firstSlab += unused
    if (this.slabs.length === 0) this.filled = 0
  }
}

/** Removes the first `count` entries; `shift` for one, the common case, allocates nothing. */
function dropFirst (list: number[], count: number): void {
  if (count === 1) list.shift()
  else list.splice(0, count)
}
