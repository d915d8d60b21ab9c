import type { Logger } from '../base/logger.js'
import { HEARTBEAT_FRAME } from '../wire/sse.js'

/** What a stream serves, for the log: a `/subscribe` client, a `/presence` watcher or a `/firehose` reader. */
export type StreamKind = 'subscriber' | 'presence' | 'firehose'

/** How the log names a cut stream of each kind, and what its client gets when it reconnects. */
const CUT_TEXT: Record<StreamKind, [string, string]> = {
  subscriber: ['slow client', 'it resumes from history when it reconnects'],
  presence: ['a slow /presence watcher', 'it gets a fresh snapshot when it reconnects'],
  firehose: ['a slow /firehose reader', 'it gets the events published after it reconnects']
}

/** What the monitor needs of a stream. */
export interface MonitoredStream {
  readonly kind: StreamKind
  /** The subscriber's clientId; empty for the other kinds. */
  readonly clientId: string
  /** The monitor's `tick` at the stream's last write. */
  readonly wroteAt: number
  /** Bytes accepted for the stream but not yet handed to the kernel. */
  readonly unsent: number
  /** Set by the monitor while it counts the stream as behind. */
  behind: boolean
  writeNow (frame: Buffer): void
  close (reason: 'slow'): void
}

export interface StreamMonitorOptions {
  /** ms of silence after which a stream gets a heartbeat comment. */
  heartbeatInterval: number
  /** Unsent bytes above which a stream counts as behind. */
  maxBufferedBytes: number
  /** ms a stream may stay behind before it is cut. */
  slowClientTimeout: number
}

/**
 * A stream is cut at once when its unsent data passes this many times `maxBufferedBytes`, however
 * briefly: the bound on what one stream can hold whatever its reader does.
 */
export const HARD_LIMIT_FACTOR = 16

/** Heartbeat ticks per interval: a silent stream gets its heartbeat between 1 and 1.25 intervals. */
const TICKS_PER_INTERVAL = 4

/** At most one log line about cut slow clients per this many ms; the others are counted in the next. */
const SLOW_LOG_INTERVAL = 1000

/**
 * Watches the hub's open streams over time with two timers for the whole hub, none per stream:
 * - heartbeats: a tick every quarter `heartbeatInterval`; a stream whose last write is more than
 *   four ticks old gets a comment line, so no stream is silent longer than 1.25 intervals;
 * - slow clients: a stream whose unsent data stays above `maxBufferedBytes` for longer than
 *   `slowClientTimeout` is cut, or at once past `HARD_LIMIT_FACTOR` times that. A reader that
 *   keeps reading sees a burst through; only one that stops or falls behind for good is cut. Cut
 *   streams are reset, so their unsent data leaves the kernel's buffers too.
 */
export class StreamMonitor {
  /** Counts heartbeat periods; streams note it when they write. */
  tick = 0
  readonly maxBufferedBytes: number
  readonly hardLimit: number
  /** Streams above `maxBufferedBytes` → since when (ms). */
  private readonly lagging = new Map<MonitoredStream, number>()
  private readonly heartbeat: NodeJS.Timeout
  private slowCheck: NodeJS.Timeout | undefined
  private readonly slowCheckInterval: number
  private lastSlowLog = -Infinity
  private unloggedCuts = 0

  constructor (
    private readonly streams: Iterable<MonitoredStream>,
    private readonly options: StreamMonitorOptions,
    private readonly logger: Logger
  ) {
    this.maxBufferedBytes = options.maxBufferedBytes
    this.hardLimit = options.maxBufferedBytes * HARD_LIMIT_FACTOR
    this.slowCheckInterval = Math.min(1000, Math.max(50, Math.floor(options.slowClientTimeout / 5)))
    this.heartbeat = setInterval(this.beat, Math.max(1, Math.floor(options.heartbeatInterval / TICKS_PER_INTERVAL))).unref()
  }

  /** Called by a stream whose write left more than `maxBufferedBytes` unsent. */
  behindBy (stream: MonitoredStream, unsent: number): void {
    if (unsent > this.hardLimit) {
      this.cut(stream, `${unsent} bytes unsent, over the hard limit of ${this.hardLimit}`)
      return
    }
    if (stream.behind) return
    stream.behind = true
    this.lagging.set(stream, Date.now())
    this.slowCheck ??= setInterval(this.checkBehind, this.slowCheckInterval).unref()
  }

  /** Called by a stream counted as behind whose write left `maxBufferedBytes` or less unsent. */
  caughtUp (stream: MonitoredStream): void {
    stream.behind = false
    this.lagging.delete(stream)
  }

  /** Forgets a closed stream. */
  forget (stream: MonitoredStream): void {
    if (stream.behind) this.caughtUp(stream)
  }

  close (): void {
    clearInterval(this.heartbeat)
    clearInterval(this.slowCheck)
    this.slowCheck = undefined
    this.lagging.clear()
  }

  private readonly beat = (): void => {
    const tick = ++this.tick
    for (const stream of this.streams) {
      if (tick - stream.wroteAt > TICKS_PER_INTERVAL) stream.writeNow(HEARTBEAT_FRAME)
    }
  }

  private readonly checkBehind = (): void => {
    const now = Date.now()
    for (const [stream, since] of this.lagging) {
      if (stream.unsent <= this.maxBufferedBytes) this.caughtUp(stream)
      else if (now - since > this.options.slowClientTimeout) {
        this.cut(stream, `${stream.unsent} bytes unsent for ${now - since} ms, over maxBufferedBytes (${this.maxBufferedBytes}) for longer than slowClientTimeout (${this.options.slowClientTimeout} ms)`)
      }
    }
    if (this.lagging.size === 0) {
      clearInterval(this.slowCheck)
      this.slowCheck = undefined
    }
  }

  private cut (stream: MonitoredStream, why: string): void {
    this.forget(stream)
    stream.close('slow')
    const now = Date.now()
    if (now - this.lastSlowLog < SLOW_LOG_INTERVAL) {
      this.unloggedCuts++
      return
    }
    const others = this.unloggedCuts > 0 ? ` (and ${this.unloggedCuts} more slow streams cut since the last such line)` : ''
    const [who, next] = CUT_TEXT[stream.kind]
    this.logger.info(`cut ${who}${stream.kind === 'subscriber' ? ` ${stream.clientId}` : ''}: ${why}; ${next}${others}`)
    this.lastSlowLog = now
    this.unloggedCuts = 0
  }
}
