import { idsFrom, type OnceOutcome, parseId, type PublishedEvent } from './broker.js'

/** The ids of a publish as a key keeps them: the first id and a count when they follow each other, else the list. */
type KeptIds = { first: string, count: number } | string[]

/** A kept key: the digest of its batch, when it ends, and the ids of its publish (a promise while that runs). */
interface Entry {
  digest: string
  expiresAt: number
  ids: Promise<string[]> | KeptIds
  /** What it counts against `maxKeys`: 1, or its number of ids when they had to be kept as a list. */
  weight: number
}

/**
 * The Idempotency-Keys of a broker that keeps none itself (the in-memory one, or one an app
 * gives without `publishOnce`), kept in this process for `window` ms after their publish. A key
 * whose publish is still running is kept too: a request with it waits for that publish and gets
 * its ids, so that concurrent duplicates publish once. A publish that fails keeps nothing (a
 * broker's publish is all or nothing). At most `maxKeys` are kept: past it the oldest is forgotten
 * before its window ends, so that a flood of distinct keys holds a bounded memory.
 */
export class IdempotencyKeys {
  /** In the order they were kept, which is the order they expire in (one window for all). */
  private readonly entries = new Map<string, Entry>()
  private weight = 0

  constructor (private readonly window: number, private readonly maxKeys: number) {}

  /** Keys kept now, for tests. @internal */
  get size (): number {
    return this.entries.size
  }

  /** Publishes with `publish` unless `key` is kept: then the first publish's ids, or `reused` when its digest was another. */
  async publishOnce (key: string, digest: string, publish: () => Promise<PublishedEvent[]>): Promise<OnceOutcome> {
    const now = Date.now()
    this.expire(now)
    const kept = this.entries.get(key)
    if (kept !== undefined) {
      if (kept.digest !== digest) return { outcome: 'reused' }
      return { outcome: 'replayed', ids: kept.ids instanceof Promise ? await kept.ids : listed(kept.ids) }
    }
    const published = publish()
    const ids = published.then((events) => events.map((event) => event.id))
    // Awaited only by concurrent duplicates: without one, its failure is this call's, thrown below.
    ids.catch(() => {})
    const entry: Entry = { digest, expiresAt: now + this.window, ids, weight: 1 }
    this.keep(key, entry)
    try {
      const events = await published
      if (this.entries.get(key) === entry) {
        entry.ids = keptIds(events)
        const weight = Array.isArray(entry.ids) ? entry.ids.length : 1
        this.weight += weight - entry.weight
        entry.weight = weight
        this.trim()
      }
      return { outcome: 'published', events }
    } catch (err) {
      if (this.entries.get(key) === entry) this.forget(key, entry)
      throw err
    }
  }

  private keep (key: string, entry: Entry): void {
    this.entries.set(key, entry)
    this.weight += entry.weight
    this.trim()
  }

  private forget (key: string, entry: Entry): void {
    this.entries.delete(key)
    this.weight -= entry.weight
  }

  /** Forgets the oldest keys while more than `maxKeys` are kept. */
  private trim (): void {
    for (const [key, entry] of this.entries) {
      if (this.weight <= this.maxKeys) return
      this.forget(key, entry)
    }
  }

  /** Forgets the keys whose window ended. */
  private expire (now: number): void {
    for (const [key, entry] of this.entries) {
      if (entry.expiresAt > now) return
      this.forget(key, entry)
    }
  }
}

/** The ids of a publish as kept: a range when they follow each other (the built-in brokers' always do). */
function keptIds (events: readonly PublishedEvent[]): KeptIds {
  const first = parseId(events[0]?.id)
  const inRange = first !== undefined && events.every((event, i) => event.id === `${first.epoch}-${first.seq + i}`)
  return inRange ? { first: events[0].id, count: events.length } : events.map((event) => event.id)
}

function listed (ids: KeptIds): string[] {
  return Array.isArray(ids) ? ids : idsFrom(ids.first, ids.count)
}
