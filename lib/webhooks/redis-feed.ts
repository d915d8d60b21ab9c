import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import type { Logger } from '../base/logger.js'
import { redisKeys } from '../redis/keys.js'
import { StreamReader } from '../redis/stream-reader.js'
import { changeOf } from '../registry/redis-registry.js'
import type { FeedSink, WebhookFeed } from './sender.js'

/** ms the sender's lease lasts, how often the sender renews it, and how often the others try to take it. */
export const SENDER_LEASE = 5000
const RENEW_EVERY = 1500
const TRY_EVERY = 1000

/** ARGV: nodeId, then the lease (ms) to renew, or the cursor to set. Acts only while the lease is the node's. */
const RENEW_SCRIPT = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0"
const COMMIT_SCRIPT = "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[2], ARGV[2]) return 1 end return 0"
const RELEASE_SCRIPT = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"

/**
 * The feed of a cluster: one node at a time sends, the one holding the sender lease in Redis.
 * It reads the registry's stream of changes (every node's clients, in one order) from the
 * cursor, the last change whose events were sent, which it moves after each batch. A node that
 * dies or stalls loses the lease within `SENDER_LEASE`; another takes it and starts again from
 * the cursor, sending again, with the same ids, what was sent after it.
 */
export class RedisWebhookFeed implements WebhookFeed {
  readonly lastTryAtClose = false
  private readonly nodeId = randomBytes(6).toString('hex')
  private readonly keys
  private sink: FeedSink | undefined
  private reader: StreamReader | undefined
  private reading: Promise<void> | undefined
  /** The number of the last change read. */
  private last = 0
  /** When the lease ends, as far as this node knows (0: not the sender). */
  private leaseEnds = 0
  private timer: NodeJS.Timeout | undefined
  private closed = false

  constructor (private readonly redis: Redis, prefix: string, private readonly logger: Logger) {
    this.keys = redisKeys(prefix)
  }

  start (sink: FeedSink): void {
    this.sink = sink
    this.tick().catch(() => {})
  }

  async commit (seq: number): Promise<void> {
    if (this.reader === undefined) return
    await this.redis.eval(COMMIT_SCRIPT, 2, this.keys.webhookSender, this.keys.webhookCursor, this.nodeId, String(seq))
  }

  async close (): Promise<void> {
    this.closed = true
    clearTimeout(this.timer)
    if (this.reader === undefined) return
    this.stopReading()
    await this.reading
    await this.redis.eval(RELEASE_SCRIPT, 1, this.keys.webhookSender, this.nodeId).catch(() => {})
  }

  /** Renews the lease, or tries to take it; then plans the next turn. */
  private async tick (): Promise<void> {
    const started = Date.now()
    try {
      if (this.reader !== undefined) {
        const renewed = await this.redis.eval(RENEW_SCRIPT, 1, this.keys.webhookSender, this.nodeId, String(SENDER_LEASE))
        if (renewed === 1) this.leaseEnds = started + SENDER_LEASE
        else this.lose('another node holds the lease')
      } else if (await this.redis.set(this.keys.webhookSender, this.nodeId, 'PX', SENDER_LEASE, 'NX') === 'OK') {
        this.leaseEnds = started + SENDER_LEASE
        await this.lead()
      }
    } catch {
      // Redis away: the lease may have ended without this node knowing; stop before another may start.
      if (this.reader !== undefined && Date.now() >= this.leaseEnds - RENEW_EVERY) this.lose('Redis did not answer')
    }
    if (!this.closed) this.timer = setTimeout(() => { this.tick().catch(() => {}) }, this.reader === undefined ? TRY_EVERY : RENEW_EVERY).unref()
  }

  /** Starts sending: from the cursor, or from now when there is none yet (or Redis lost it with its data). */
  private async lead (): Promise<void> {
    const [cursor, seq] = await this.redis.mget(this.keys.webhookCursor, this.keys.presenceSeq)
    const [sent, made] = [Number(cursor ?? -1), Number(seq ?? 0)]
    this.last = sent < 0 || sent > made ? made : sent
    // The first sender (or the first after Redis lost its data) starts now, and says so for the next.
    if (sent < 0 || sent > made) await this.redis.eval(COMMIT_SCRIPT, 2, this.keys.webhookSender, this.keys.webhookCursor, this.nodeId, String(this.last))
    if (this.closed) return
    this.logger.info(`webhooks: this node sends them now, from presence change ${this.last}`)
    this.sink?.reset(this.last)
    const reader = new StreamReader(this.redis, this.keys.presenceChanges, 1000, 1000)
    this.reader = reader
    this.reading = reader.follow({
      after: () => `${this.last}-0`,
      onEntries: (entries) => {
        if (this.reader !== reader) return
        for (const [entryId, fields] of entries) {
          const seq = Number(entryId.split('-')[0])
          if (seq > this.last + 1) {
            this.logger.warn(`webhooks: ${seq - this.last - 1} presence changes were trimmed from Redis before they were sent`)
            this.sink?.lost(seq - this.last - 1)
          }
          this.last = seq
          this.sink?.push(changeOf(seq, fields), seq)
        }
      },
      onNothing: async () => {
        // Redis lost its data: changes are numbered from 1 again.
        const seq = Number(await this.redis.get(this.keys.presenceSeq).catch(() => this.last) ?? 0)
        if (seq < this.last && this.reader === reader) {
          this.last = seq
          this.sink?.reset(seq)
        }
      }
    })
  }

  private lose (why: string): void {
    this.logger.warn(`webhooks: this node stops sending them (${why}); another node goes on from the last batch it finished`)
    this.stopReading()
    this.sink?.reset(0)
  }

  private stopReading (): void {
    this.reader?.close()
    this.reader = undefined
    this.leaseEnds = 0
  }
}
