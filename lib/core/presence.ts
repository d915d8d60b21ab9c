import type { Broker } from '../broker/broker.js'
import type { Connection } from './connection.js'
import type { PageQuery } from '../registry/paging.js'
import type { ClientInfo, ClientPage, ClientRegistry, PresenceChange, PresenceSnapshot } from '../registry/registry.js'
import { chunk } from '../wire/sse.js'
import { joinText, leaveText, snapshotText } from './presence/frames.js'
import { OnlineList, type PresenceOptions } from './presence/online-list.js'
import { type ChannelDetail, type ChannelPage, type ClientQuery, PresenceReads } from './presence/reads.js'

export type { ChannelDetail, ChannelPage, ChannelSummary, ClientQuery } from './presence/reads.js'
export { presenceFlag, type PresenceOptions } from './presence/online-list.js'

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
 * Presence on top of the registry: keeps it up to date as this node's connections open and close,
 * and turns the changes it reports (of every node, in a cluster) into `/presence` streams
 * (snapshot, join, leave), the compat `online-presence` list and the hub's join and leave events. The frames of one loop turn reach a watcher as one chunk in one write, and every
 * watcher of all clients gets the same Buffer, so a burst of connects costs each watcher a few
 * writes, not one per connect.
 */
export class Presence {
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

  private readonly online: OnlineList
  private closed = false
  private readonly reads: PresenceReads

  /** `onClient` hears of every client that joins or leaves (the hub's own events). */
  constructor (
    private readonly registry: ClientRegistry,
    broker: Broker,
    options: PresenceOptions,
    private readonly onClient: (change: PresenceChange) => void
  ) {
    this.reads = new PresenceReads(registry, broker)
    this.online = new OnlineList(registry, options)
    registry.onChange(this.apply)
    registry.onReset?.(this.restart)
  }

  /** Registers an opening connection; the registry reports what it changed. */
  add (connection: Connection): void {
    this.registry.add(connection)
  }

  /** Unregisters a closed connection; the registry reports what it changed. */
  remove (connection: Connection): void {
    this.online.forget(connection)
    this.registry.remove(connection)
  }

  /**
   * Starts a `/presence` stream: the snapshot of the clients in its view (all of them, or those
   * on one of `channels`), then a `join` when a client enters that view and a `leave` when it
   * exits. Changes during the (asynchronous) snapshot read are held and follow it.
   */
  async watch (connection: Connection, channels?: readonly string[]): Promise<void> {
    // Frames already batched describe changes the snapshot will show: they are not for this one.
    this.flushWatchers()
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
    this.flushWatchers()
    const text = snapshotText(snapshot.clients) + afterSnapshot(snapshot, watcher.held ?? [])
    watcher.held = null
    this.starting.delete(watcher)
    if (watcher.filter === undefined) this.everyone.add(watcher)
    else this.filtered.add(watcher)
    connection.start([chunk(text)], Infinity)
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

  /**
   * Sends a `presence=1` connection the list of connected clientIds, and again whenever it
   * changes. Now when the last list built is current; otherwise with the next update, so that a
   * burst of such connects builds the list once per interval, not once per connect.
   */
  followOnline (connection: Connection): void {
    this.online.follow(connection)
  }

  /** `GET /clients`: a page of clients in clientId order. Throws a 400 `HubError` on a bad query. */
  clients (query: ClientQuery = {}): Promise<ClientPage> {
    return this.reads.clients(query)
  }

  /** `GET /clients/:clientId`: undefined when it has no open connection. */
  client (clientId: string): Promise<ClientInfo | undefined> {
    return this.reads.client(clientId)
  }

  /** `GET /channels`: a page of the channels with at least one subscriber, in name order. */
  channels (query: PageQuery = {}): Promise<ChannelPage> {
    return this.reads.channels(query)
  }

  /** `GET /channels/:name`: who is on it and its last event; zeros and null for an unused channel. */
  channel (name: string): Promise<ChannelDetail> {
    return this.reads.channel(name)
  }

  /** Stops the timers; the streams themselves are ended by the hub. */
  close (): void {
    this.closed = true
    this.online.close()
    if (this.flushImmediate !== undefined) clearImmediate(this.flushImmediate)
  }

  /** A change the registry reported: to the hub's listeners, the watchers, the online list. */
  private readonly apply = (change: PresenceChange): void => {
    if (this.closed) return
    if (change.whole) this.onClient(change)
    if (this.watchers.size > 0) this.announce(change)
    if (change.whole) this.online.changed()
  }

  /** Changes were lost: watchers start again with a snapshot (they reconnect), followers get the list anew. */
  private readonly restart = (): void => {
    for (const watcher of this.watchers.values()) watcher.connection.close('shutdown')
    this.online.changed()
  }

  /**
   * Queues a join or leave for every watcher whose view it changes. A watcher of every client
   * sees `whole` changes (first connection, last connection); a watcher of some channels sees a
   * client enter when it gets onto its first of them and leave when it is on none any more.
   */
  private announce ({ join, clientId, whole, changed, channels: now, seq }: PresenceChange): void {
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
      this.flushImmediate = setImmediate(this.flushWatchers)
    }
  }

  /** Writes what this loop turn queued: one chunk, the same Buffer for every unfiltered watcher. */
  private readonly flushWatchers = (): void => {
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
