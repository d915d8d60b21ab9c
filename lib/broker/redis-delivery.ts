import type { Redis } from 'ioredis'
import type { Logger } from '../base/logger.js'
import { eventFrame } from '../wire/sse.js'
import { whenReady } from '../redis/connection.js'
import type { RedisKeys } from '../redis/keys.js'
import type { StreamEntry, StreamReader } from '../redis/stream-reader.js'
import type { Deliver, PublishedEvent } from './broker.js'
import type { RedisEpochs } from './redis-epoch.js'
import { entrySeq, payloadOf } from './redis-entries.js'

/** Reads of the delivery stream whose batches the hub holds at most before it writes them. */
const MAX_HELD_READS = 4

/** What the delivery loop reads from and reports to. */
export interface DeliverySource {
  redis: Redis
  keys: RedisKeys
  epochs: RedisEpochs
  reader: StreamReader
  deliver: Deliver
  /** Events did not reach this node: its streams cannot go on. */
  gap: (why: string) => void
  /** Whether the last read reached Redis. */
  answered: (ok: boolean) => void
  /** The loop reads from now on; or it could not start. */
  started: () => void
  failed: (err: Error) => void
  logger?: Logger
}

/**
 * Delivers every batch of the delivery stream, from its head at start, in order, until the
 * reader is closed. After a lost connection, and when nothing came for a while, it checks the
 * epoch first: when a new one began (Redis restarted or lost its data), its entries may be
 * numbered from below where this node read, so it reads on from the new epoch's first entry,
 * unless entries of the old one before it are left to deliver. Each entry names its epoch, and
 * the streams go on.
 */
export async function followDelivery (source: DeliverySource): Promise<void> {
  const { redis, keys, epochs, reader, deliver } = source
  /** The epoch as of the last check; the id of the last entry delivered. */
  let checked: string
  let lastDelivered: string
  try {
    await Promise.all([whenReady(redis), reader.ready()])
    checked = (await epochs.current())[0]
    epochs.eraOf(checked)
    // Live from now: what came before is for resume, not for this node's streams.
    const [head] = await redis.xrevrange(keys.delivery, '+', '-', 'COUNT', 1)
    lastDelivered = head?.[0] ?? '0-0'
  } catch (err) {
    source.failed(new Error(`Redis did not answer at start (${(err as Error).message})`))
    return
  }
  /** The epoch of the last entry delivered, and the seq the next one should start with. */
  let epoch = checked
  let next: number | undefined
  let checkEpoch = false
  /**
   * A blocking read answers as soon as one entry is there, and more of a burst come meanwhile:
   * after it, reads that do not block take what came, and the hub writes once one finds nothing.
   */
  let catchingUp = false
  /** Reads since the hub last wrote: under a steady stream, it writes at least every few reads. */
  let reads = 0
  const release = (): void => {
    if (catchingUp) deliver([], false)
    catchingUp = false
    reads = 0
  }
  const deliverEntry = ([entryId, fields]: StreamEntry): void => {
    lastDelivered = entryId
    const batch = batchOf(fields, entrySeq(entryId), checked, epochs)
    if (batch.epoch !== epoch) {
      epoch = batch.epoch
      next = undefined
    }
    // Entries trimmed before this node read them: fell behind by more than the backlog.
    if (next !== undefined && batch.events[0].seq > next) source.gap(`${batch.events[0].seq - next} events did not reach this node (it fell behind the cluster's delivery stream)`)
    next = batch.events[batch.events.length - 1].seq + 1
    deliver(batch.events, true)
  }
  source.started()
  await reader.follow({
    after: () => lastDelivered,
    catchingUp: () => catchingUp,
    beforeRead: async () => {
      if (!checkEpoch) return
      const [now, start] = await epochs.current().catch((): [string, undefined] => [checked, undefined])
      checkEpoch = start === undefined
      if (now === checked || start === undefined) return
      checked = now
      epochs.eraOf(now)
      if (entrySeq(lastDelivered) >= entrySeq(start)) lastDelivered = start
      source.logger?.warn('a new epoch began in Redis (it restarted, or lost its data): open streams go on with its events; ids from before no longer resume')
    },
    onEntries: (entries) => {
      source.answered(true)
      for (const entry of entries) deliverEntry(entry)
      catchingUp = true
      if (++reads >= MAX_HELD_READS) release()
    },
    onNothing: () => {
      source.answered(true)
      // Nothing new for a while: Redis may have lost its data, and its new entries have smaller ids.
      if (!catchingUp) checkEpoch = true
      release()
    },
    onLost: () => {
      release()
      source.answered(false)
      checkEpoch = true
    }
  })
  release()
}

/**
 * The events of one delivery stream entry: `p` (publishedAt), `e` (epoch; `fallback` for an entry
 * written without it), then `c` (channel), `t` and `d` per event.
 */
function batchOf (fields: string[], first: number, fallback: string, epochs: RedisEpochs): { epoch: string, events: PublishedEvent[] } {
  const publishedAt = Number(fields[1])
  const named = fields[2] === 'e'
  const epoch = named ? fields[3] : fallback
  const era = epochs.eraOf(epoch)
  const events: PublishedEvent[] = []
  for (let i = named ? 4 : 2, seq = first; i + 5 < fields.length; i += 6, seq++) {
    const [channelName, type, data] = [fields[i + 1], fields[i + 3], fields[i + 5]]
    const id = `${epoch}-${seq}`
    events.push({ id, seq, era, channelName, type, payload: payloadOf(data), publishedAt, frame: eventFrame(id, type, data) })
  }
  return { epoch, events }
}
