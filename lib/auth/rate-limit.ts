import { addressKey } from '../base/address.js'

interface Bucket {
  tokens: number
  /** ms timestamp of the last refill. */
  at: number
}

/** How often idle buckets are dropped. */
const SWEEP_INTERVAL = 10_000

/**
 * A token bucket per client address: `perSecond` requests a second, in bursts of up to
 * `perSecond`. One small class rather than @fastify/rate-limit because the hub answers an excess
 * in two ways: a publish with `429`, a stream with a `retry:` refusal that EventSource can follow
 * (@fastify/rate-limit can only answer with an error reply).
 *
 * Memory stays bounded: full buckets (idle for a second or more) are swept every 10 s, and at most
 * `maxKeys` addresses are tracked (past that the oldest are forgotten, which only forgives them).
 * IPv6 addresses are counted per /64, the block one host usually gets.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>()
  private lastSweep: number

  constructor (
    readonly perSecond: number,
    private readonly now: () => number = Date.now,
    private readonly maxKeys = 100_000
  ) {
    this.lastSweep = now()
  }

  /** Addresses tracked now. */
  get size (): number {
    return this.buckets.size
  }

  /**
   * Takes one request from the address's bucket.
   * @returns 0 when it is allowed, else the ms until the next one would be
   */
  take (address: string): number {
    const now = this.now()
    if (now - this.lastSweep >= SWEEP_INTERVAL || this.buckets.size >= this.maxKeys) this.sweep(now)
    const key = addressKey(address)
    let bucket = this.buckets.get(key)
    if (bucket === undefined) {
      bucket = { tokens: this.perSecond, at: now }
      this.buckets.set(key, bucket)
    } else {
      bucket.tokens = Math.min(this.perSecond, bucket.tokens + (now - bucket.at) * this.perSecond / 1000)
      bucket.at = now
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1
      return 0
    }
    return Math.ceil((1 - bucket.tokens) * 1000 / this.perSecond)
  }

  private sweep (now: number): void {
    this.lastSweep = now
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens + (now - bucket.at) * this.perSecond / 1000 >= this.perSecond) this.buckets.delete(key)
    }
    // Still full of active addresses (a flood from many): forget the oldest, in insertion order.
    for (const key of this.buckets.keys()) {
      if (this.buckets.size < this.maxKeys) break
      this.buckets.delete(key)
    }
  }
}
