import { createHash } from 'node:crypto'
import { badEvent } from '../base/errors.js'
import type { EventInput } from '../base/names.js'
import { eventData } from '../wire/sse.js'

/** An event the broker accepted: numbered, stored, and framed once for every connection. */
export interface PublishedEvent extends EventInput {
  /** Opaque id, as sent in `id:` lines and in the publish reply. */
  id: string
  /** Position in the broker's total order; ids compare as their seqs do, within one era. */
  seq: number
  /**
   * Which of the broker's numberings `seq` belongs to (absent: 0). A cluster broker begins a new
   * one when its store restarted and may number from 1 again: a later era comes after, whatever its seqs.
   */
  era?: number
  /** ms since the epoch */
  publishedAt: number
  /** The complete SSE frame, shared by every connection the event goes to. */
  frame: Buffer
}

/** A channel's last event as the broker keeps it: all but the frame (a frame may pin a whole pool of Buffers). */
export type LastEvent = Omit<PublishedEvent, 'frame'>

/**
 * What history keeps of an event for resume: its position, its age and its frame (whose `id:`
 * line the client needs), not the parsed payload, which only the channel's last event keeps.
 */
export interface RetainedEvent {
  seq: number
  /** ms since the epoch */
  publishedAt: number
  frame: Buffer
}

/** The broker's position when a stream starts: live events up to it are covered by the opening frames. */
export interface StartHead {
  headSeq: number
  /** The era of `headSeq` (absent: 0). */
  era?: number
}

/** Where a new stream starts, as the broker sees it at the moment of the call. */
export type StartPoint = StartHead & (
  | {
    resumed: true
    /** Every retained event after the client's id on its channels, oldest first. */
    missed: RetainedEvent[]
  }
  | {
    resumed: false
    /** The last event of each requested channel, in the order asked (undefined: none yet). */
    lastEvents: Array<LastEvent | undefined>
    /**
     * The client's id is from an earlier era (the store restarted since): the retained events of
     * the current era on its channels, oldest first, sent after the snapshots.
     */
    missed?: RetainedEvent[]
    /** The id of the head position, for the `registered` frame. */
    headId: string
  })

/** Channels that keep a last event and history when a broker is not told otherwise. */
export const DEFAULT_MAX_RETAINED_CHANNELS = 100_000

/**
 * A subscriber index kept outside this process, that a cluster broker reads in its store: a Redis
 * hash whose fields are the channels with a subscriber on any node (a shared registry keeps it).
 */
export interface SharedSubscriberIndex {
  redisHash: string
}

/** Which channels have subscribers: what a broker that bounds the channels it keeps state for must never drop. */
export interface Subscribers {
  /** Whether a channel has subscribers in this process. */
  here: (channelName: string) => boolean
  /** The registry's index of every node's subscribers, when the registry is shared by the nodes. */
  everywhere?: SharedSubscriberIndex
}

/**
 * Receives every accepted batch, in order, for fan-out to this process's connections. `more`:
 * further batches are being read and follow at once, so the hub holds its writes until a call
 * without it (which may carry no events), and a burst reaches each connection in one write.
 */
export type Deliver = (events: readonly PublishedEvent[], more?: boolean) => void

/** What `Broker.publishOnce` did with a batch and its key. */
export type OnceOutcome =
  /** The key was not kept: the batch was published, and the key kept with its ids. */
  | { outcome: 'published', events: PublishedEvent[] }
  /** The key was kept with the same batch: nothing published; the ids the first publish gave. */
  | { outcome: 'replayed', ids: string[] }
  /** The key was kept with another batch: nothing published. */
  | { outcome: 'reused' }

/**
 * The seam between "accept, number and store an event" and "fan it out to this process's
 * connections". The in-memory broker does both in one process; a cluster broker stores in a
 * shared server and calls `deliver` on every node.
 */
export interface Broker {
  /**
   * Registers the fan-out callback; called once by the hub before anything is published.
   * `subscribers` says which channels have subscribers: a broker that bounds the channels it
   * keeps state for never drops such a channel's last event and history. Throws when the broker
   * cannot work with what it is given (a cluster broker needs the index of every node).
   */
  onDeliver (deliver: Deliver, subscribers: Subscribers): void
  /**
   * Numbers and stores a batch that was already checked, then hands it to `deliver`. All or
   * nothing: if it rejects, no event of the batch was stored or delivered.
   */
  publish (events: readonly EventInput[]): Promise<PublishedEvent[]>
  /**
   * `publish`, once per `key` within `window` ms: in one step, without a moment in which two
   * calls with the key could both publish, it finds the key kept with the same batch (its
   * `batchDigest`) and publishes nothing, finds it kept with another batch, or publishes and keeps
   * the key with the ids. A broker shared by several processes implements it, so that a key is
   * honoured on every node; for a broker without it the hub keeps the keys in its own process.
   * Never called with an empty batch.
   */
  publishOnce? (events: readonly EventInput[], key: string, window: number): Promise<OnceOutcome>
  /** The last event published on a channel. */
  lastEvent (channelName: string): Promise<LastEvent | undefined>
  /**
   * What a new stream receives before live events: the events missed since `lastEventId`
   * when they are all retained, else the last event of each channel.
   */
  startPoint (channelNames: readonly string[], lastEventId: string | undefined): Promise<StartPoint>
  /**
   * Registers what to do when this node's streams can no longer be continued: events could not
   * be delivered to it (a cluster node that fell further behind than its broker keeps). The hub
   * ends its streams, whose clients resume from history, or get the snapshots, when they
   * reconnect. `why` is for the log. A new era (the store restarted) is no gap: streams go on.
   */
  onGap? (listener: (why: string) => void): void
  /** False while the broker cannot store or deliver (a cluster broker's store is unreachable). */
  healthy? (): boolean
  /** Resolves once events published from then on are delivered to this node (a cluster broker's read has started). */
  ready? (): Promise<void>
  close (): Promise<void>
}

/**
 * The `data` line of each event of a batch, all or nothing: a payload JSON cannot express (a
 * BigInt, a cycle) rejects the whole batch with a 400 before anything is stored.
 */
export function serialiseBatch (events: readonly EventInput[]): string[] {
  return events.map((event, index) => {
    try {
      return eventData(event.channelName, event.type, event.payload)
    } catch (err) {
      throw badEvent(index, 'payload', `cannot be serialised as JSON (${(err as Error).message})`)
    }
  })
}

/**
 * What tells a batch from another for an Idempotency-Key: the SHA-256 (hex) of its `data` lines
 * (`serialiseBatch`). Two bodies that differ only in the spacing or the escapes of their JSON are
 * one batch; a payload whose object keys come in another order is another (its events would be sent as other text).
 */
export function batchDigest (data: readonly string[]): string {
  // A data line is JSON on one line: the newline cannot occur inside one.
  return createHash('sha256').update(data.join('\n')).digest('hex')
}

/** The ids of `count` events numbered one after the other from the id `<epoch>-<seq>` of the first. */
export function idsFrom (firstId: string, count: number): string[] {
  const first = parseId(firstId)
  if (first === undefined) throw new Error(`${JSON.stringify(firstId)} is not an id <epoch>-<seq>`)
  return Array.from({ length: count }, (_, i) => `${first.epoch}-${first.seq + i}`)
}

/** The epoch and seq of an id `<epoch>-<seq>`; undefined for anything else. */
export function parseId (id: string | undefined): { epoch: string, seq: number } | undefined {
  if (id === undefined) return undefined
  const dash = id.indexOf('-')
  const digits = id.slice(dash + 1)
  if (dash < 0 || !/^\d{1,15}$/.test(digits)) return undefined
  return { epoch: id.slice(0, dash), seq: Number(digits) }
}

/** The seq of an id of the given epoch; undefined for anything else. */
export function seqOf (epoch: string, id: string | undefined): number | undefined {
  const position = parseId(id)
  return position?.epoch === epoch ? position.seq : undefined
}
