import { packedMap } from '../base/arrays.js'
import type { PublishedEvent } from '../broker/broker.js'
import type { Connection } from './connection.js'

/** This node's subscriber streams on one channel. */
interface ChannelSubscribers {
  /** The channel's name: one string for every stream on it. */
  readonly name: string
  /** The stream while it is the only one. */
  only: Connection | undefined
  /** From the second stream on: all of them. */
  several: Set<Connection> | undefined
}

/**
 * Which of this node's streams are on which channel, for fan-out. A channel costs one map entry
 * and a record of three fields; a Set is made only when a second stream joins it. The index holds
 * one copy of each name and hands it to every stream on the channel: the names a subscribe
 * brings are slices of its request URL, and keeping a slice keeps the whole URL alive.
 */
export class SubscriberIndex {
  private readonly channels = new Map<string, ChannelSubscribers>()

  /** Channels with at least one stream. */
  get size (): number {
    return this.channels.size
  }

  has (channelName: string): boolean {
    return this.channels.has(channelName)
  }

  /**
   * Opens a stream on distinct `names`: `open` gets the names as the index holds them (the
   * stream keeps those) and returns the stream, which then joins every channel.
   */
  join (names: readonly string[], open: (names: readonly string[]) => Connection): Connection {
    const channels = packedMap(names, (name) => this.channels.get(name) ?? this.create(name))
    const connection = open(packedMap(channels, (channel) => channel.name))
    for (const channel of channels) {
      if (channel.several !== undefined) {
        channel.several.add(connection)
      } else if (channel.only === undefined) {
        channel.only = connection
      } else {
        channel.several = new Set([channel.only, connection])
        channel.only = undefined
      }
    }
    return connection
  }

  /** Takes a stream off its channels; a channel left without streams goes. */
  leave (connection: Connection): void {
    for (const name of connection.channelNames) {
      const channel = this.channels.get(name)
      if (channel === undefined) continue
      if (channel.several !== undefined) {
        channel.several.delete(connection)
        if (channel.several.size > 0) continue
      } else if (channel.only !== connection) {
        continue
      }
      this.channels.delete(name)
    }
  }

  /** Queues an event on every stream of its channel; those that had nothing queued go onto `dirty`. */
  enqueue (event: PublishedEvent, dirty: Connection[]): void {
    const channel = this.channels.get(event.channelName)
    if (channel === undefined) return
    if (channel.several === undefined) {
      if (channel.only?.enqueue(event) === true) dirty.push(channel.only)
      return
    }
    for (const connection of channel.several) {
      if (connection.enqueue(event)) dirty.push(connection)
    }
  }

  private create (name: string): ChannelSubscribers {
    const channel: ChannelSubscribers = { name: ownCopy(name), only: undefined, several: undefined }
    this.channels.set(channel.name, channel)
    return channel
  }
}

/** The shortest substring V8 makes a view of the original (`SlicedString::kMinLength`); a shorter one is a copy. */
const SLICE_MIN_LENGTH = 13

/**
 * A string of its own with the text of `text`, which may be a slice of a longer one: V8 makes a
 * substring of 13 characters or more a view that keeps the whole original alive. A shorter text
 * is a copy already and is kept as it is, as is text that UTF-8 cannot carry (a lone surrogate).
 */
export function ownCopy (text: string): string {
  if (text.length < SLICE_MIN_LENGTH) return text
  const copy = Buffer.from(text, 'utf8').toString('utf8')
  return copy === text ? copy : text
}
