import type { EventInput } from '../core/names.js'

/** An event the broker accepted: numbered, stored, and framed once for every connection. */
export interface PublishedEvent extends EventInput {
  /** Opaque id, as sent in `id:` lines and in the publish reply. */
  id: string
  /** Position in the broker's total order; ids compare as their seqs do. */
  seq: number
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

/** Where a new stream starts, as the broker sees it at the moment of the call. */
export type StartPoint =
  | {
    resumed: true
    /** Every retained event after the client's id on its channels, oldest first. */
    missed: RetainedEvent[]
    /** The broker's position: live events up to here are covered by `missed`. */
    headSeq: number
  }
  | {
    resumed: false
    /** The last event of each requested channel, in the order asked (undefined: none yet). */
    lastEvents: Array<LastEvent | undefined>
    headSeq: number
    /** The id of the head position, for the `registered` frame. */
    headId: string
  }

/** Receives every accepted batch, in order, for fan-out to this process's connections. */
export type Deliver = (events: readonly PublishedEvent[]) => void

/**
 * The seam between "accept, number and store an event" and "fan it out to this process's
 * connections". The in-memory broker does both in one process; a cluster broker stores in a
 * shared server and calls `deliver` on every node.
 */
export interface Broker {
  /**
   * Registers the fan-out callback; called once by the hub before anything is published.
   * `hasSubscribers` tells whether a channel has subscribers on this node: a broker that bounds
   * the channels it keeps state for never drops such a channel's last event and history.
   */
  onDeliver (deliver: Deliver, hasSubscribers: (channelName: string) => boolean): void
  /**
   * Numbers and stores a batch that was already checked, then hands it to `deliver`. All or
   * nothing: if it rejects, no event of the batch was stored or delivered.
   */
  publish (events: readonly EventInput[]): Promise<PublishedEvent[]>
  /** The last event published on a channel. */
  lastEvent (channelName: string): Promise<LastEvent | undefined>
  /**
   * What a new stream receives before live events: the events missed since `lastEventId`
   * when they are all retained, else the last event of each channel.
   */
  startPoint (channelNames: readonly string[], lastEventId: string | undefined): Promise<StartPoint>
  close (): Promise<void>
}
