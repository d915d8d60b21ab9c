import type { Redis } from 'ioredis'
import { packedMap } from '../base/arrays.js'
import { eventFrame } from '../wire/sse.js'
import { transaction } from '../redis/connection.js'
import type { RedisKeys } from '../redis/keys.js'
import { parseId, type RetainedEvent, type StartPoint } from './broker.js'
import type { RedisEpochs } from './redis-epoch.js'
import { entrySeq, fieldsOf, lastEventOf } from './redis-entries.js'

/** What a start point is read from. */
export interface StartPointSource {
  redis: Redis
  keys: RedisKeys
  epochs: RedisEpochs
  /** ms an event is retained for resume; 0: no age limit. */
  historyTtl: number
}

/**
 * Where a stream starts: the missed events when the client's id is of the current epoch and
 * history holds all of them; else the snapshots, followed, for an id of an epoch this Redis
 * replaced, by the current epoch's retained events.
 */
export async function readStartPoint (source: StartPointSource, channelNames: readonly string[], lastEventId: string | undefined): Promise<StartPoint> {
  const { epochs, historyTtl } = source
  // The history after the client's position is read in the same transaction, before its epoch is known to match.
  await epochs.check()
  const position = parseId(lastEventId)
  let view = await readView(source, channelNames, position?.seq, position?.epoch)
  // No epoch yet: nothing was ever published under this prefix, and the stream needs one for its id.
  const epoch = view.epoch ?? (await epochs.current())[0]
  const era = epochs.eraOf(epoch)
  if (position?.epoch === epoch && position.seq <= view.headSeq) {
    const missed = collectMissed(epoch, channelNames, position.seq, view.lasts, view.histories, historyTtl, view.forgotten)
    if (missed !== undefined) return { resumed: true, missed, headSeq: view.headSeq, era }
  }
  let missed: RetainedEvent[] | undefined
  if (position !== undefined && position.epoch !== epoch && (view.pastEpoch || epochs.saw(position.epoch))) {
    // An id from before Redis restarted: what was published since can still be given, after the snapshots.
    const since = await readView(source, channelNames, view.epochSeq, undefined)
    if (since.epoch === epoch) {
      view = since
      missed = sinceEpoch(epoch, view.histories, historyTtl)
    }
  }
  return {
    resumed: false,
    lastEvents: packedMap(channelNames, (name, i) => lastEventOf(epoch, name, view.lasts[i])),
    ...(missed === undefined ? {} : { missed }),
    headSeq: view.headSeq,
    era,
    headId: `${epoch}-${view.headSeq}`
  }
}

/** What a start point is made of, read in one transaction. */
interface StartView {
  epoch: string | null
  headSeq: number
  forgotten: number
  /** The seq the current epoch numbers after. */
  epochSeq: number
  /** Whether the epoch asked about is one this Redis replaced. */
  pastEpoch: boolean
  lasts: Array<Record<string, string>>
  histories: Array<Array<[string, string[]]>>
}

/**
 * Reads, in one MULTI, the epoch, the head seq and for each channel its last event and its
 * history after `after` (when given): a consistent picture, whatever other nodes publish meanwhile.
 */
async function readView ({ redis, keys }: StartPointSource, channelNames: readonly string[], after: number | undefined, pastEpoch: string | undefined): Promise<StartView> {
  const multi = redis.multi().get(keys.epoch).get(keys.seq).get(keys.forgotten).get(keys.epochSeq).sismember(keys.pastEpochs, pastEpoch ?? '')
  for (const name of channelNames) {
    multi.hgetall(keys.last + name)
    if (after !== undefined) multi.xrange(keys.history + name, `${after + 1}-0`, '+')
  }
  const results = await transaction(multi)
  const view: StartView = {
    epoch: results[0] as string | null,
    headSeq: Number(results[1] ?? 0),
    forgotten: Number(results[2] ?? 0),
    epochSeq: Number(results[3] ?? 0),
    pastEpoch: results[4] === 1,
    lasts: [],
    histories: []
  }
  const perChannel = after === undefined ? 1 : 2
  channelNames.forEach((_, i) => {
    view.lasts.push(results[5 + i * perChannel] as Record<string, string>)
    if (after !== undefined) view.histories.push(results[6 + i * perChannel] as Array<[string, string[]]>)
  })
  return view
}

/**
 * The missed events of every channel, oldest first, or undefined when some are gone: each
 * history entry names the previous seq of its channel, so the first one after the client's
 * position must follow on from it, and a channel whose last event is newer must have entries.
 * A channel without a last event may have been forgotten since the position (`forgotten`).
 */
function collectMissed (epoch: string, channelNames: readonly string[], after: number, lasts: Array<Record<string, string>>, histories: Array<Array<[string, string[]]>>, ttl: number, forgotten: number): RetainedEvent[] | undefined {
  const oldest = ttl > 0 ? Date.now() - ttl : -Infinity
  const missed: RetainedEvent[] = []
  for (let c = 0; c < channelNames.length; c++) {
    if (lasts[c]?.s === undefined && after < forgotten) return undefined
    const lastSeq = Number(lasts[c]?.s ?? 0)
    const entries = histories[c] ?? []
    if (lastSeq <= after) continue
    if (entries.length === 0) return undefined
    const first = fieldsOf(entries[0][1])
    if (Number(first.v) > after || Number(first.p) < oldest) return undefined
    for (const [entryId, list] of entries) {
      const fields = fieldsOf(list)
      const seq = entrySeq(entryId)
      const id = `${epoch}-${seq}`
      missed.push({ seq, publishedAt: Number(fields.p), frame: eventFrame(id, fields.t, fields.d) })
    }
  }
  if (channelNames.length > 1) missed.sort((a, b) => a.seq - b.seq)
  return missed
}

/** The retained events of the current epoch on the channels (histories read from its first seq), oldest first. */
function sinceEpoch (epoch: string, histories: Array<Array<[string, string[]]>>, ttl: number): RetainedEvent[] {
  const oldest = ttl > 0 ? Date.now() - ttl : -Infinity
  const events: RetainedEvent[] = []
  for (const entries of histories) {
    for (const [entryId, list] of entries) {
      const fields = fieldsOf(list)
      if (Number(fields.p) < oldest) continue
      const seq = entrySeq(entryId)
      events.push({ seq, publishedAt: Number(fields.p), frame: eventFrame(`${epoch}-${seq}`, fields.t, fields.d) })
    }
  }
  return events.sort((a, b) => a.seq - b.seq)
}
