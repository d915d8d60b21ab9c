import type { PublishedEvent } from '../broker/broker.js'
import type { SseSink } from '../wire/sink.js'
import type { MonitoredStream, StreamKind, StreamMonitor } from './stream-monitor.js'

/** No frames; never written to (`more.length = 0` on it changes nothing). */
const NONE: Buffer[] = []

/** Why a connection ended, for the hub's counters. */
export type CloseReason = 'client' | 'slow' | 'shutdown'

/**
 * One subscriber stream. Frames are queued while the hub fans a batch out and written in one go
 * by `flush`, so the events of one publish bound for this connection leave in a single write.
 * A connection never waits for a slow client: when a write leaves more than `maxBufferedBytes`
 * unsent it tells the hub's `StreamMonitor`, which cuts the stream if it stays behind (the client
 * then resumes from history when it reconnects).
 */
export class Connection implements MonitoredStream {
  /** ms since the epoch */
  readonly connectedAt = Date.now()
  /** The monitor's tick at the last write, for heartbeats. */
  wroteAt: number
  /** True while the monitor counts this stream as behind (see `StreamMonitor`). */
  behind = false
  /** What the stream serves; the hub sets it for a watcher. */
  kind: StreamKind = 'subscriber'
  private closed = false
  private closeReason: CloseReason = 'client'
  /**
   * The frames queued since the last flush: most turns bring a connection one event, which
   * waits here without an array; a turn that brings several makes one, kept for the next.
   */
  private queued: Buffer | undefined
  private more: Buffer[] | undefined
  /**
   * The broker position the opening frames account for, from the moment they are written; -1
   * before, while live events are held. An event at or before it is already in those frames: a
   * broker that delivers after a delay (a cluster's) may still bring it.
   */
  private covered = -1
  /** The broker era of `covered`: an event of a later era is live whatever its seq. */
  private coveredEra = 0
  private held: PublishedEvent[] | undefined

  constructor (
    private readonly sink: SseSink,
    readonly clientId: string,
    readonly channelNames: readonly string[],
    private readonly monitor: StreamMonitor,
    onClose: (connection: Connection, reason: CloseReason) => void
  ) {
    this.wroteAt = monitor.tick
    sink.onClose(() => {
      const reason = this.closed ? this.closeReason : 'client'
      this.closed = true
      onClose(this, reason)
    })
  }

  /**
   * Opens the stream: writes its opening frames (registered and snapshots, or a first `retry:`),
   * the events it replays and then every live event held meanwhile that they do not already
   * cover, in one write.
   * @param opening the opening frames as text, built for this stream alone
   * @param frames the shared frames of the replayed events; the held events are appended to this array
   * @param coveredSeq the broker position the opening frames account for
   * @param coveredEra the broker era of that position
   */
  start (opening: string, frames: Buffer[], coveredSeq: number, coveredEra = 0): void {
    this.covered = coveredSeq
    this.coveredEra = coveredEra
    for (const event of this.held ?? []) if (this.isLive(event)) frames.push(event.frame)
    this.held = undefined
    if (this.closed) return
    this.sink.open(opening, frames)
    this.wrote()
  }

  /**
   * Queues an event's shared frame. Returns true when nothing was queued before, so the caller
   * knows to flush this connection once the batch is done.
   */
  enqueue (event: PublishedEvent): boolean {
    if (this.covered < 0) {
      (this.held ??= []).push(event)
      return false
    }
    if (!this.isLive(event)) return false
    if (this.queued === undefined) {
      this.queued = event.frame
      return true
    }
    (this.more ??= []).push(event.frame)
    return false
  }

  /** Whether an event comes after what the opening frames account for. */
  private isLive (event: PublishedEvent): boolean {
    const era = event.era ?? 0
    return era === this.coveredEra ? event.seq > this.covered : era > this.coveredEra
  }

  /** Writes what is queued in one go. @returns the number of frames written */
  flush (): number {
    const first = this.queued
    if (first === undefined) return 0
    this.queued = undefined
    const more = this.more ?? NONE
    const count = this.write(first, more)
    more.length = 0
    return count
  }

  /** Writes a frame outside of a batch (heartbeats), after anything queued. */
  writeNow (frame: Buffer): void {
    this.flush()
    this.write(frame, NONE)
  }

  /** Bytes accepted for this stream but not yet handed to the kernel. */
  get unsent (): number {
    return this.sink.writableLength
  }

  /** One socket write for one frame, one corked run for several. */
  private write (first: Buffer | undefined, rest: readonly Buffer[]): number {
    const count = (first === undefined ? 0 : 1) + rest.length
    if (this.closed || count === 0) return 0
    const sink = this.sink
    if (count === 1) {
      sink.write(first ?? rest[0])
    } else {
      sink.cork()
      if (first !== undefined) sink.write(first)
      for (const frame of rest) sink.write(frame)
      sink.uncork()
    }
    this.wrote()
    return count
  }

  /** After a write: the time for heartbeats, and the monitor hears of a stream left behind. */
  private wrote (): void {
    this.wroteAt = this.monitor.tick
    const unsent = this.sink.writableLength
    if (unsent > this.monitor.maxBufferedBytes) this.monitor.behindBy(this, unsent)
    else if (this.behind) this.monitor.caughtUp(this)
  }

  /** Ends the stream: gracefully on shutdown (after what is queued), with a reset for a slow client. */
  close (reason: 'slow' | 'shutdown'): void {
    if (this.closed) return
    if (reason === 'shutdown') this.flush()
    this.closed = true
    this.closeReason = reason
    if (reason === 'slow') this.sink.destroy()
    else this.sink.end()
  }

  /** Drops the connection with a reset, whatever its state: the end of a shutdown for a client that stopped reading. */
  reset (): void {
    if (!this.closed) this.closeReason = 'shutdown'
    this.closed = true
    this.sink.destroy()
  }
}
