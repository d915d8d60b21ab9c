import type { EventInput } from '../base/names.js'
import type { OnceOutcome, PublishedEvent } from './broker.js'

/** A batch's Idempotency-Key as the store call carries it: the key, the batch's digest, and ms to keep it. */
export interface BatchKey {
  key: string
  digest: string
  window: number
}

/** What the store call did with a batch: its events, or, for a batch with a key, nothing published. */
export type StoredBatch = PublishedEvent[] | Exclude<OnceOutcome, { outcome: 'published' }>

/** A batch waiting to be stored, and its caller. */
export interface WaitingBatch {
  inputs: readonly EventInput[]
  data: string[]
  once?: BatchKey
  resolve: (stored: StoredBatch) => void
  reject: (err: Error) => void
}

/**
 * Sends batches one store call at a time: a batch that comes while a call is in flight waits,
 * and the next call takes every batch that waited, up to `maxEvents` events (one batch is never
 * split), so that a burst costs a few round trips, not one per batch.
 */
export class WriteGroups {
  /** Batches waiting for the call in flight to return. */
  private readonly waiting: WaitingBatch[] = []
  private storing = false

  /**
   * @param storeGroup stores a group of batches, all or nothing; resolves with what it did with each
   * @param maxEvents events one call carries at most
   */
  constructor (private readonly storeGroup: (group: readonly WaitingBatch[]) => Promise<StoredBatch[]>, private readonly maxEvents: number) {}

  /** Queues a batch for the next call: at once when none is in flight, else when it returns. */
  store (inputs: readonly EventInput[], data: string[]): Promise<PublishedEvent[]>
  /** As `store`, with a key: a batch whose key is kept publishes nothing. */
  store (inputs: readonly EventInput[], data: string[], once: BatchKey): Promise<StoredBatch>
  store (inputs: readonly EventInput[], data: string[], once?: BatchKey): Promise<StoredBatch> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ inputs, data, once, resolve, reject })
      if (!this.storing) this.storeWaiting().catch(() => {})
    })
  }

  private async storeWaiting (): Promise<void> {
    this.storing = true
    while (this.waiting.length > 0) {
      let events = 0
      let take = 0
      while (take < this.waiting.length && (take === 0 || events + this.waiting[take].inputs.length <= this.maxEvents)) {
        events += this.waiting[take++].inputs.length
      }
      const group = this.waiting.splice(0, take)
      try {
        const stored = await this.storeGroup(group)
        group.forEach((batch, i) => batch.resolve(stored[i]))
      } catch (err) {
        for (const batch of group) batch.reject(err as Error)
      }
    }
    this.storing = false
  }
}
