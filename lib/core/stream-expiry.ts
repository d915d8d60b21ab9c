/** What the expiry needs of a stream: a way to end it gracefully. */
export interface ExpiringStream {
  close (reason: 'shutdown'): void
}

/**
 * Asks again whoever granted a stream (the app, for a grant of `authUrl`): the new expiry, ms
 * since the epoch, when the grant holds on; undefined when it is withdrawn or cannot be had.
 */
export type Renewal = () => Promise<number | undefined>

/** ms between two sweeps: a stream ends within this of its credentials' expiry. */
const SWEEP_INTERVAL = 1000

/** Renewals under way at most; the others wait their turn, so that streams expiring together do not ask all at once. */
const MAX_RENEWALS_IN_FLIGHT = 32

/**
 * Ends the streams whose credentials expire (a subscriber JWT's `exp`), so that a token that
 * expired, or was revoked by not being renewed, does not keep a stream open: its client comes
 * back with a fresh token and resumes from its last event. A stream granted by the app
 * (`authUrl`) is asked for again at its expiry instead, at most `MAX_RENEWALS_IN_FLIGHT` at a
 * time, and ends only if the app withdraws the grant (or cannot answer: the hub fails closed). Streams are kept by the second they
 * expire in (`exp` is in seconds), and one timer for all of them, running only while some stream
 * has an expiry, ends those of each second that passed.
 */
export class StreamExpiry<S extends ExpiringStream> {
  private readonly bySecond = new Map<number, Set<S>>()
  private readonly secondOf = new Map<S, number>()
  /** The streams whose grant is asked again at its expiry instead of ending it. */
  private readonly renewals = new Map<S, Renewal>()
  /** Streams waiting for their renewal to start, oldest expiry first. */
  private readonly toRenew: S[] = []
  private renewing = 0
  private timer: NodeJS.Timeout | undefined
  /** The last second swept. */
  private swept = 0

  /** Streams with an expiry. */
  get size (): number {
    return this.secondOf.size
  }

  /**
   * Ends `stream` once `expiresAt` (ms since the epoch) has passed, or, with `renew`, asks it
   * then and ends the stream only if the grant does not hold on.
   */
  add (stream: S, expiresAt: number, renew?: Renewal): void {
    if (renew !== undefined) this.renewals.set(stream, renew)
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
    this.renewals.delete(stream)
    if (this.secondOf.size === 0) return
    const second = this.secondOf.get(stream)
    if (second === undefined) return
    this.secondOf.delete(stream)
    const streams = this.bySecond.get(second)
    streams?.delete(stream)
    if (streams?.size === 0) this.bySecond.delete(second)
    if (this.secondOf.size === 0) this.stopTimer()
  }

  /** Stops the timer and the renewals not started yet (the hub's streams are ending). */
  close (): void {
    this.stopTimer()
    this.toRenew.length = 0
  }

  private stopTimer (): void {
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
    if (this.secondOf.size === 0) this.stopTimer()
  }

  /** Ends the streams that expire in `second`. */
  private end (second: number): void {
    const streams = this.bySecond.get(second)
    if (streams === undefined) return
    this.bySecond.delete(second)
    for (const stream of streams) {
      this.secondOf.delete(stream)
      if (this.renewals.has(stream)) this.toRenew.push(stream)
      else stream.close('shutdown')
    }
    this.renewNext()
  }

  /** Starts renewals while fewer than `MAX_RENEWALS_IN_FLIGHT` are under way. */
  private renewNext (): void {
    while (this.renewing < MAX_RENEWALS_IN_FLIGHT && this.toRenew.length > 0) {
      const stream = this.toRenew.shift() as S
      const renew = this.renewals.get(stream)
      // Closed while it waited.
      if (renew === undefined) continue
      this.renewing++
      this.renew(stream, renew).finally(() => {
        this.renewing--
        this.renewNext()
      }).catch(() => {})
    }
  }

  /** Asks for one stream's grant again: kept until the new expiry, or ended. */
  private async renew (stream: S, renew: Renewal): Promise<void> {
    const expiresAt = await renew().catch(() => undefined)
    // Closed while it was asked: forgotten already.
    if (this.renewals.get(stream) !== renew) return
    if (expiresAt !== undefined && expiresAt > Date.now()) this.add(stream, expiresAt)
    else stream.close('shutdown')
  }
}
