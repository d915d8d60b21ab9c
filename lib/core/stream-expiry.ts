/** What the expiry needs of a stream: a way to end it gracefully. */
export interface ExpiringStream {
  close (reason: 'shutdown'): void
}

/** ms between two sweeps: a stream ends within this of its credentials' expiry. */
const SWEEP_INTERVAL = 1000

/**
 * Ends the streams whose credentials expire (a subscriber JWT's `exp`), so that a token that
 * expired, or was revoked by not being renewed, does not keep a stream open: its client comes
 * back with a fresh token and resumes from its last event. Streams are kept by the second they
 * expire in (`exp` is in seconds), and one timer for all of them, running only while some stream
 * has an expiry, ends those of each second that passed.
 */
export class StreamExpiry<S extends ExpiringStream> {
  private readonly bySecond = new Map<number, Set<S>>()
  private readonly secondOf = new Map<S, number>()
  private timer: NodeJS.Timeout | undefined
  /** The last second swept. */
  private swept = 0

  /** Streams with an expiry. */
  get size (): number {
    return this.secondOf.size
  }

  /** Ends `stream` once `expiresAt` (ms since the epoch) has passed. */
  add (stream: S, expiresAt: number): void {
    const second = Math.ceil(expiresAt / 1000)
    this.secondOf.set(stream, second)
    let streams = this.bySecond.get(second)
    if (streams === undefined) this.bySecond.set(second, streams = new Set())
    streams.add(stream)
    if (this.timer === undefined) {
      this.swept = Math.floor(Date.now() / 1000) - 1
      this.timer = setInterval(this.sweep, SWEEP_INTERVAL).unref()
    }
  }

  /** Forgets a stream that closed. */
  forget (stream: S): void {
    if (this.secondOf.size === 0) return
    const second = this.secondOf.get(stream)
    if (second === undefined) return
    this.secondOf.delete(stream)
    const streams = this.bySecond.get(second)
    streams?.delete(stream)
    if (streams?.size === 0) this.bySecond.delete(second)
    if (this.secondOf.size === 0) this.close()
  }

  /** Stops the timer (the hub's streams are ending). */
  close (): void {
    clearInterval(this.timer)
    this.timer = undefined
  }

  private readonly sweep = (): void => {
    const now = Math.floor(Date.now() / 1000)
    // Second by second; through the map when it holds fewer seconds than passed (a clock jump).
    if (now - this.swept > this.bySecond.size) {
      for (const second of this.bySecond.keys()) if (second <= now) this.end(second)
    } else {
      for (let second = this.swept + 1; second <= now; second++) this.end(second)
    }
    this.swept = now
    if (this.secondOf.size === 0) this.close()
  }

  /** Ends the streams that expire in `second`. */
  private end (second: number): void {
    const streams = this.bySecond.get(second)
    if (streams === undefined) return
    this.bySecond.delete(second)
    for (const stream of streams) {
      this.secondOf.delete(stream)
      stream.close('shutdown')
    }
  }
}
