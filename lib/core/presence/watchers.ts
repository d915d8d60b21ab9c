import type { Connection } from '../connection.js'
import type { ClientRegistry, PresenceChange, PresenceSnapshot } from '../../registry/registry.js'
import { chunk } from '../../wire/sse.js'
import { joinText, leaveText, snapshotText } from './frames.js'

/** A `/presence` stream. */
interface Watcher {
  readonly connection: Connection
  /** Only clients on one of these channels; undefined: every client. */
  readonly filter: ReadonlySet<string> | undefined
  /** Changes that happened before its snapshot was written; null once it was. */
  held: HeldChange[] | null
  /** SSE text for a filtered watcher, written as one chunk at the end of the loop turn. */
  pending: string
}

interface HeldChange {
  join: boolean
  clientId: string
  text: string
  seq: number | undefined
}

/**
 * The `/presence` streams: each starts with a snapshot of the clients in its view and then gets
 * a `join` when a client enters that view and a `leave` when it exits. The frames of one loop
 * turn reach a watcher as one chunk in one write, and every watcher of all clients gets the same
 * Buffer, so a burst of connects costs each watcher a few writes, not one per connect.
 */
export class PresenceWatchers {
  private readonly watchers = new Map<Connection, Watcher>()
  /** Watchers waiting for their snapshot. */
  private readonly starting = new Set<Watcher>()
  /** Started watchers of every client: they all get the same frames. */
  private readonly everyone = new Set<Watcher>()
  /** Started watchers of some channels: each gets the changes that cross its view. */
  private readonly filtered = new Set<Watcher>()
  /** SSE text for `everyone` this loop turn. */
  private shared = ''
  private readonly pendingFiltered = new Set<Watcher>()
  private flushImmediate: NodeJS.Immediate | undefined

  constructor (private readonly registry: ClientRegistry) {}

  /** Open `/presence` streams, started or not. */
  get size (): number {
    return this.watchers.size
  }

  /**
   * Starts a `/presence` stream: the snapshot of the clients in its view (all of them, or those
   * on one of `channels`), then a `join` when a client enters that view and a `leave` when it
   * exits. Changes during the (asynchronous) snapshot read are held and follow it.
   */
  async watch (connection: Connection, channels?: readonly string[]): Promise<void> {
    // Frames already batched describe changes the snapshot will show: they are not for this one.
    this.flush()
    const watcher: Watcher = { connection, filter: channels === undefined ? undefined : new Set(channels), held: [], pending: '' }
    this.watchers.set(connection, watcher)
    this.starting.add(watcher)
    let snapshot
    try {
      snapshot = await this.registry.snapshot(channels)
    } catch (err) {
      connection.close('shutdown')
      throw err
    }
    if (this.watchers.get(connection) !== watcher) return
    // The same again: `shared` may hold changes this watcher also holds.
    this.flush()
    const text = snapshotText(snapshot.clients) + afterSnapshot(snapshot, watcher.held ?? [])
    watcher.held = null
    this.starting.delete(watcher)
    if (watcher.filter === undefined) this.everyone.add(watcher)
    else this.filtered.add(watcher)
    connection.start(text, [], Infinity)
  }

  /** Forgets a closed `/presence` stream. */
  unwatch (connection: Connection): void {
    const watcher = this.watchers.get(connection)
    if (watcher === undefined) return
    this.watchers.delete(connection)
    this.starting.delete(watcher)
    this.everyone.delete(watcher)
    this.filtered.delete(watcher)
    this.pendingFiltered.delete(watcher)
  }

  /** Ends every stream: changes were lost, so they start again with a snapshot when they reconnect. */
  restart (): void {
    for (const watcher of this.watchers.values()) watcher.connection.close('shutdown')
  }

  /** Drops what this loop turn queued; the streams themselves are ended by the hub. */
  close (): void {
    if (this.flushImmediate !== undefined) clearImmediate(this.flushImmediate)
  }

  /**
   * Queues a join or leave for every watcher whose view it changes. A watcher of every client
   * sees `whole` changes (first connection, last connection); a watcher of some channels sees a
   * client enter when it gets onto its first of them and leave when it is on none any more.
   */
  announce ({ join, clientId, whole, changed, channels: now, seq }: PresenceChange): void {
    let text: string | undefined
    const textOf = (): string => (text ??= join ? joinText(clientId, now) : leaveText(clientId))
    if (whole && this.everyone.size > 0) this.shared += textOf()
    for (const watcher of this.filtered) {
      if (!crosses(watcher.filter as ReadonlySet<string>, join, changed, now)) continue
      watcher.pending += textOf()
      this.pendingFiltered.add(watcher)
    }
    for (const watcher of this.starting) {
      if (watcher.filter === undefined ? !whole : !crosses(watcher.filter, join, changed, now)) continue
      watcher.held?.push({ join, clientId, text: textOf(), seq })
    }
    if (this.flushImmediate === undefined && (this.shared !== '' || this.pendingFiltered.size > 0)) {
      this.flushImmediate = setImmediate(this.flush)
    }
  }

  /** Writes what this loop turn queued: one chunk, the same Buffer for every unfiltered watcher. */
  private readonly flush = (): void => {
    if (this.flushImmediate !== undefined) {
      clearImmediate(this.flushImmediate)
      this.flushImmediate = undefined
    }
    if (this.shared !== '') {
      const frames = chunk(this.shared)
      this.shared = ''
      for (const watcher of this.everyone) watcher.connection.writeNow(frames)
    }
    for (const watcher of this.pendingFiltered) {
      watcher.connection.writeNow(chunk(watcher.pending))
      watcher.pending = ''
    }
    this.pendingFiltered.clear()
  }
}

/** Whether a change moves a client into (join) or out of (leave) the view of a channel filter. */
function crosses (filter: ReadonlySet<string>, join: boolean, changed: readonly string[], now: readonly string[]): boolean {
  if (!changed.some((name) => filter.has(name))) return false
  // join: `now` includes the channels just entered; in view before only through another one.
  if (join) return !now.some((name) => filter.has(name) && !changed.includes(name))
  return !now.some((name) => filter.has(name))
}

/**
 * The held changes a snapshot does not already show. With the in-memory registry that is all of
 * them (the snapshot is taken before any is held); a shared one numbers its changes and its
 * snapshots, and reports every change a snapshot shows before it answers.
 */
function afterSnapshot (snapshot: PresenceSnapshot, held: readonly HeldChange[]): string {
  if (held.length === 0) return ''
  const present = new Set(snapshot.clients.map((client) => client.clientId))
  let text = ''
  for (const change of held) {
    if (snapshot.seq !== undefined && change.seq !== undefined && change.seq <= snapshot.seq) continue
    if (change.join === present.has(change.clientId)) continue
    if (change.join) present.add(change.clientId)
    else present.delete(change.clientId)
    text += change.text
  }
  return text
}
