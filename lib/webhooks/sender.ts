import type { Logger } from '../base/logger.js'
import type { PresenceChange } from '../registry/registry.js'
import { deliver, WEBHOOK_TIMEOUT } from './delivery.js'
import { eventsOf, type QueuedEvent } from './events.js'
import { WebhookQueue } from './queue.js'

/** Events in one request at most, and ms the first of them waits for more. */
export const BATCH_SIZE = 100
export const BATCH_WINDOW = 250
/** Events waiting at most (a receiver down for long); past it the oldest are dropped. */
export const MAX_QUEUED = 100_000
/** ms between the first two tries of a batch, doubled up to `MAX_BACKOFF`. */
const FIRST_BACKOFF = 1000
const MAX_BACKOFF = 300_000
/** ms a stopping hub in one process gives the events left, in one try. */
const LAST_TRY = 2000

/** What a feed tells the sender. */
export interface FeedSink {
  /** A presence change, numbered: changes come in order, each once. */
  push: (change: PresenceChange, seq: number) => void
  /** The events waiting are another node's to send (or were lost): start again after change `seq`. */
  reset: (seq: number) => void
  /** Changes were lost before they were read (trimmed from Redis): counted as dropped. */
  lost: (changes: number) => void
}

/** Where presence changes come from, and where the sender records how far it got. */
export interface WebhookFeed {
  /** True when the events left at a stop are lost unless sent then (one process). */
  readonly lastTryAtClose: boolean
  start: (sink: FeedSink) => void
  /** Every event of the changes up to `seq` was sent or dropped: a node taking over resumes after it. */
  commit: (seq: number) => Promise<void>
  close: () => Promise<void>
}

export interface WebhookSenderOptions {
  url: string
  secret: string
  /** ms a leave waits for its return. */
  debounce: number
  /** ms a batch is retried before it is dropped. */
  retryFor: number
  userAgent: string
  logger: Logger
}

/** What the sender did, for the metrics. */
export interface WebhookCounts {
  /** Requests answered `2xx`. */
  delivered: number
  /** Requests that failed (each try). */
  failed: number
  /** Events given up: retried for `retryFor`, pushed out of a full queue, or lost in Redis. */
  dropped: number
}

/**
 * Sends presence webhooks: takes the events of each change from its feed, holds leaves for the
 * debounce (`WebhookQueue`), and POSTs them in order, up to `BATCH_SIZE` per request after
 * `BATCH_WINDOW` ms, one request at a time. A failed request is tried again with the same
 * events (the same ids) after 1 s, 2 s, 4 s … up to 5 min, until `retryFor` has passed; then the
 * batch is dropped, counted and logged, and the next goes. The events behind a failing batch wait.
 */
export class WebhookSender {
  readonly counts: WebhookCounts = { delivered: 0, failed: 0, dropped: 0 }
  private readonly queue: WebhookQueue
  /** The batch being sent. */
  private sending: QueuedEvent[] | undefined
  /** Bumped at each reset: a batch of an earlier term is not this node's any more. */
  private term = 0
  private wake: (() => void) | undefined
  private readonly stop = new AbortController()
  private readonly running: Promise<QueuedEvent[]>

  constructor (private readonly options: WebhookSenderOptions, private readonly feed: WebhookFeed) {
    this.queue = new WebhookQueue(options.debounce, MAX_QUEUED)
    feed.start({
      push: (change, seq) => {
        this.queue.push(eventsOf(change, seq), seq)
        this.wake?.()
      },
      reset: (seq) => {
        this.queue.clear()
        this.queue.lastSeq = seq
        this.term++
        this.wake?.()
      },
      lost: (changes) => { this.counts.dropped += changes }
    })
    this.running = this.run()
  }

  /** Events waiting or being sent. */
  get queued (): number {
    return this.queue.size + (this.sending?.length ?? 0)
  }

  /** When the oldest event not yet delivered was made (ms), or undefined. */
  get oldestAt (): number | undefined {
    return this.sending?.[0]?.at ?? this.queue.oldestAt
  }

  /** Stops sending; in one process, gives the events left one try (`LAST_TRY` ms in all). */
  async close (): Promise<void> {
    this.stop.abort()
    this.wake?.()
    const left = await this.running
    await this.feed.close()
    if (!this.feed.lastTryAtClose) return
    const until = Date.now() + LAST_TRY
    let batch = left.length > 0 ? left : this.queue.take(BATCH_SIZE, 0, true)
    while (batch.length > 0 && Date.now() < until) {
      const outcome = await deliver(this.options.url, this.options.secret, body(batch), this.options.userAgent, until - Date.now())
      if (outcome.ok) this.counts.delivered++
      else this.counts.failed++
      batch = this.queue.take(BATCH_SIZE, 0, true)
    }
  }

  /** Sends until stopped; returns the batch it was sending then, if any. */
  private async run (): Promise<QueuedEvent[]> {
    while (!this.stop.signal.aborted) {
      const term = this.term
      const readyIn = this.queue.readyIn(Date.now())
      if (readyIn !== 0) {
        await this.pause(readyIn, true)
        continue
      }
      const windowEnds = Date.now() + BATCH_WINDOW
      while (this.queue.size < BATCH_SIZE && Date.now() < windowEnds && !this.stop.signal.aborted) await this.pause(windowEnds - Date.now(), true)
      const batch = this.queue.take(BATCH_SIZE, Date.now())
      if (batch.length === 0 || this.stop.signal.aborted || term !== this.term) {
        if (this.stop.signal.aborted) return batch
        continue
      }
      this.sending = batch
      const sent = await this.send(batch, term)
      this.sending = undefined
      if (!sent && this.stop.signal.aborted) return batch
      if (term === this.term) await this.feed.commit(this.queue.settledSeq).catch(() => {})
    }
    return []
  }

  /** Tries one batch until it is delivered, dropped, or no longer this node's; false if it was stopped first. */
  private async send (batch: QueuedEvent[], term: number): Promise<boolean> {
    const text = body(batch)
    const firstTry = Date.now()
    for (let backoff = FIRST_BACKOFF; ; backoff = Math.min(backoff * 2, MAX_BACKOFF)) {
      const outcome = await deliver(this.options.url, this.options.secret, text, this.options.userAgent, WEBHOOK_TIMEOUT, this.stop.signal)
      if (outcome.ok) {
        this.counts.delivered++
        return true
      }
      if (this.stop.signal.aborted) return false
      this.counts.failed++
      if (term !== this.term) return true
      if (Date.now() + backoff - firstTry > this.options.retryFor) {
        this.counts.dropped += batch.length
        this.options.logger.warn(`webhooks: ${batch.length} events dropped, from ${batch[0].event.id} on: ${outcome.reason}, tried for ${Math.round((Date.now() - firstTry) / 1000)} s (webhookRetryFor)`)
        return true
      }
      if (backoff === FIRST_BACKOFF) this.options.logger.warn(`webhooks: a request failed (${outcome.reason}); tried again with backoff for up to ${Math.round(this.options.retryFor / 1000)} s`)
      await this.pause(backoff, false)
      if (this.stop.signal.aborted) return false
      if (term !== this.term) return true
    }
  }

  /** Waits `ms` (forever when undefined), or less when stopped or, with `onPush`, when an event comes. */
  private pause (ms: number | undefined, onPush: boolean): Promise<void> {
    return new Promise((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(done, ms)
      function done (): void {
        clearTimeout(timer)
        resolve()
      }
      this.wake = onPush ? done : () => { if (this.stop.signal.aborted) done() }
    })
  }
}

function body (batch: readonly QueuedEvent[]): string {
  return JSON.stringify({ events: batch.map((queued) => queued.event) })
}
