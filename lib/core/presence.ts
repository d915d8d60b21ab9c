import type { Broker } from '../broker/broker.js'
import type { Connection } from './connection.js'
import type { PageQuery } from '../registry/paging.js'
import type { ClientInfo, ClientPage, ClientRegistry, PresenceChange } from '../registry/registry.js'
import { OnlineList, type PresenceOptions } from './presence/online-list.js'
import { type ChannelDetail, type ChannelPage, type ClientQuery, PresenceReads } from './presence/reads.js'
import { PresenceWatchers } from './presence/watchers.js'

export type { ChannelDetail, ChannelPage, ChannelSummary, ClientQuery } from './presence/reads.js'
export { presenceFlag, type PresenceOptions } from './presence/online-list.js'

/**
 * Presence on top of the registry: keeps it up to date as this node's connections open and close,
 * and hands the changes it reports (of every node, in a cluster) to the hub's join and leave
 * events, the `/presence` streams (presence/watchers.ts) and the compat `online-presence` list
 * (presence/online-list.ts). Reads of who is where are presence/reads.ts.
 */
export class Presence {
  private readonly watchers: PresenceWatchers
  private readonly online: OnlineList
  private readonly reads: PresenceReads
  private closed = false

  /** `onClient` hears of every client that joins or leaves (the hub's own events). */
  constructor (
    private readonly registry: ClientRegistry,
    broker: Broker,
    options: PresenceOptions,
    private readonly onClient: (change: PresenceChange) => void
  ) {
    this.watchers = new PresenceWatchers(registry)
    this.online = new OnlineList(registry, options)
    this.reads = new PresenceReads(registry, broker)
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
   * exits.
   */
  watch (connection: Connection, channels?: readonly string[]): Promise<void> {
    return this.watchers.watch(connection, channels)
  }

  /** Forgets a closed `/presence` stream. */
  unwatch (connection: Connection): void {
    this.watchers.unwatch(connection)
  }

  /** Sends a `presence=1` connection the list of connected clientIds, and again whenever it changes. */
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
    this.watchers.close()
  }

  /** A change the registry reported: to the hub's listeners, the watchers, the online list. */
  private readonly apply = (change: PresenceChange): void => {
    if (this.closed) return
    if (change.whole) this.onClient(change)
    if (this.watchers.size > 0) this.watchers.announce(change)
    if (change.whole) this.online.changed()
  }

  /** Changes were lost: watchers start again with a snapshot (they reconnect), followers get the list anew. */
  private readonly restart = (): void => {
    this.watchers.restart()
    this.online.changed()
  }
}
