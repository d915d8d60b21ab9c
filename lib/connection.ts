import type { PublishedEvent } from './broker.js'
import type { SseSink } from './sink.js'

/** Why a connection ended, for the hub's counters. */
export type CloseReason = 'client' | 'slow' | 'shutdown'

/**
 * One subscriber stream. Frames are queued while the hub fans a batch out and written in one go
 * by `flush`, so the events of one publish bound for this connection leave in a single write.
 * A connection never waits for a slow client: when its unsent bytes pass `maxBufferedBytes` it
 * is destroyed, and the client resumes from history when it reconnects.
 */
export class Connection {
  /** ms since the epoch */
  readonly connectedAt = Date.now()
  /** True once a frame was written since the hub last checked: no heartbeat needed then. */
  wroteRecently = false
  private closed = false
  private closeReason: CloseReason = 'client'
  private readonly queue: Buffer[] = []
  /** Live events that arrive before the stream's first frames are written; null once started. */
  private held: PublishedEvent[] | null = []

  constructor (
    private readonly sink: SseSink,
    readonly clientId: string,
    readonly channelNames: readonly string[],
    private readonly maxBufferedBytes: number,
    onClose: (connection: Connection, reason: CloseReason) => void
  ) {
    sink.onClose(() => {
      const reason = this.closed ? this.closeReason : 'client'
      this.closed = true
      onClose(this, reason)
    })
  }

  /**
   * Writes the opening frames (registered, snapshots or missed events) and then every live event
   * held meanwhile that they do not already cover, in one write.
   * @param coveredSeq the broker position the opening frames account for
   */
  start (openingFrames: readonly Buffer[], coveredSeq: number): void {
    const held = this.held ?? []
    this.held = null
    this.queue.push(...openingFrames)
    for (const event of held) if (event.seq > coveredSeq) this.queue.push(event.frame)
    this.flush()
  }

  /**
   * Queues an event's shared frame. Returns true when the queue was empty, so the caller
   * knows to flush this connection once the batch is done.
   */
  enqueue (event: PublishedEvent): boolean {
    if (this.held !== null) {
      this.held.push(event)
      return false
    }
    this.queue.push(event.frame)
    return this.queue.length === 1
  }

  /** Writes what is queued in one go. @returns the number of frames written */
  flush (): number {
    const count = this.queue.length
    if (count === 0 || this.closed) {
      this.queue.length = 0
      return 0
    }
    if (count === 1) {
      this.sink.write(this.queue[0])
    } else {
      this.sink.cork()
      for (const frame of this.queue) this.sink.write(frame)
      this.sink.uncork()
    }
    this.queue.length = 0
    this.wroteRecently = true
    if (this.sink.writableLength > this.maxBufferedBytes) this.close('slow')
    return count
  }

  /** Writes a frame outside of a batch (heartbeats). */
  writeNow (frame: Buffer): void {
    if (this.closed) return
    this.queue.push(frame)
    this.flush()
  }

  /** Ends the stream: gracefully on shutdown (after what is queued), at once for a slow client. */
  close (reason: 'slow' | 'shutdown'): void {
    if (this.closed) return
    if (reason === 'shutdown') this.flush()
    this.closed = true
    this.closeReason = reason
    if (reason === 'slow') this.sink.destroy()
    else this.sink.end()
  }
}
