import type { Redis } from 'ioredis'
import { COMMAND_TIMEOUT, whenReady } from './connection.js'

/** One entry of a Redis stream: its id and its fields, name and value in turn. */
export type StreamEntry = [id: string, fields: string[]]

/** What a `StreamReader` asks of the one who follows a stream. */
export interface StreamFollower {
  /** The entry id to read after; asked before each read. */
  after: () => string
  /** Runs before each read: a check in Redis (a new epoch) that may move `after`. */
  beforeRead?: () => Promise<void>
  /** True: the next read takes what is there and returns at once, without blocking. */
  catchingUp?: () => boolean
  /** The entries of one read, oldest first. */
  onEntries: (entries: StreamEntry[]) => void
  /** A read found nothing: a blocking one within its block time, or one that did not block. */
  onNothing: () => void | Promise<void>
  /** A read failed (the connection dropped: ioredis reconnects); the next one comes after a pause. */
  onLost?: () => void
}

/**
 * Follows one stream with blocking `XREAD`s on a connection of its own (a blocking read holds its
 * connection, so commands must not wait behind it), from the entry its follower says, until closed.
 */
export class StreamReader {
  /** The reading connection: a duplicate of the command one, whose commands may block that long. */
  readonly connection: Redis
  private closed = false

  /**
   * @param redis the command connection, duplicated for the reads
   * @param key the stream
   * @param count entries one read takes at most
   * @param block ms a blocking read waits before it returns with nothing
   */
  constructor (redis: Redis, private readonly key: string, private readonly count: number, private readonly block: number) {
    this.connection = redis.duplicate({ commandTimeout: block + COMMAND_TIMEOUT })
    // Without a listener, ioredis prints each connection error; health and refusals report them.
    this.connection.on('error', () => {})
  }

  /** Resolves once the reading connection is ready (rejects after the connect timeout). */
  ready (): Promise<void> {
    return whenReady(this.connection)
  }

  /** Reads in a loop until `close`; resolves then. */
  async follow (follower: StreamFollower): Promise<void> {
    while (!this.closed) {
      await follower.beforeRead?.()
      let reply
      try {
        reply = follower.catchingUp?.() === true
          ? await this.connection.xread('COUNT', this.count, 'STREAMS', this.key, follower.after())
          : await this.connection.xread('COUNT', this.count, 'BLOCK', this.block, 'STREAMS', this.key, follower.after())
      } catch {
        if (this.closed) return
        follower.onLost?.()
        await pause(100)
        continue
      }
      if (reply === null) await follower.onNothing()
      else for (const [, entries] of reply) follower.onEntries(entries)
    }
  }

  /** Ends the loop: the read in flight fails at once. */
  close (): void {
    this.closed = true
    this.connection.disconnect()
  }
}

/** Waits without keeping the process alive. */
export function pause (ms: number): Promise<void> {
  return new Promise((resolve) => { setTimeout(resolve, ms).unref() })
}
