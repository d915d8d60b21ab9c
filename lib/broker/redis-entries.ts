import { parseJson } from '../wire/json.js'
import type { LastEvent } from './broker.js'

/** The seq of a stream entry id (`<seq>-0`). */
export function entrySeq (entryId: string | undefined): number {
  return Number(entryId?.split('-')[0] ?? 0)
}

/** The fields of an entry, from Redis's name, value, name, value… list. */
export function fieldsOf (list: string[]): Record<string, string> {
  const fields: Record<string, string> = {}
  for (let i = 0; i + 1 < list.length; i += 2) fields[list[i]] = list[i + 1]
  return fields
}

/** A channel's last event from its hash (`s` seq, `t` type, `d` data, `p` publishedAt); undefined when none. */
export function lastEventOf (epoch: string, channelName: string, fields: Record<string, string> | undefined): LastEvent | undefined {
  if (fields === undefined || fields.s === undefined) return undefined
  const seq = Number(fields.s)
  return { id: `${epoch}-${seq}`, seq, channelName, type: fields.t, payload: payloadOf(fields.d), publishedAt: Number(fields.p) }
}

/** The payload inside an event's `data` (`{"channelName","type","payload"}`). */
export function payloadOf (data: string): unknown {
  return (parseJson(data) as { payload: unknown }).payload
}
