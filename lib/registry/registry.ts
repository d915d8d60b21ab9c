import type { SharedSubscriberIndex } from '../broker/broker.js'
import { decodeCursor, encodeCursor } from './paging.js'
import { SortedKeys } from './sorted-keys.js'

/** What the registry needs to know of a connection. */
export interface RegisteredConnection {
  readonly clientId: string
  /** Distinct names. */
  readonly channelNames: readonly string[]
  /** ms since the epoch */
  readonly connectedAt: number
}

/** A connected client: every open connection that shares one clientId. */
export interface ClientInfo {
  clientId: string
  /** Open connections (tabs, devices) with this clientId. */
  connections: number
  /** The union of the channels of its connections. */
  channels: string[]
  /** ISO 8601 time of its oldest open connection. */
  connectedAt: string
}

/** A client as presence events show it: `join` payloads and the `/presence` snapshot. */
export interface ClientPresence {
  clientId: string
  /** The union of the channels of its open connections. */
  channels: string[]
}

/**
 * One change in who is on which channel. Every node of a cluster sees the same changes in the
 * same order; `seq` numbers them where the registry is shared (undefined in one process).
 */
export interface PresenceChange {
  /** True: the client got onto `changed`; false: it got off them. */
  join: boolean
  clientId: string
  /** The client joined (its first open connection anywhere) or left (its last one closed). */
  whole: boolean
  /** The channels it entered or left: at least one. */
  changed: readonly string[]
  /** Every channel it is on now (none once it left). */
  channels: readonly string[]
  /**
   * The channels of `changed` that got their first subscriber (join) or lost their last (leave),
   * counting every client, on every node.
   */
  occupancy: readonly string[]
  /** ms since the epoch, when the registry made the change (in a cluster, by Redis's clock). */
  at: number
  seq?: number
}

/** The clients of a view at one point: what a `/presence` stream starts with. */
export interface PresenceSnapshot {
  clients: ClientPresence[]
  /** The last change the snapshot shows, where changes are numbered: later ones follow it. */
  seq?: number
}

/** A page of `ClientRegistry.clients`. */
export interface ClientPage {
  /** Every match, not only this page's. */
  total: number
  clients: ClientInfo[]
  /** Pass as `cursor` for the next page; absent on the last page. */
  nextCursor?: string
}

/** Who uses a channel: `subscribers` counts connections, `clients` distinct clientIds. */
export interface ChannelUse {
  subscribers: number
  clients: number
}

/** A page of `ClientRegistry.channels`: the channels with at least one subscriber. */
export interface ChannelUsePage {
  total: number
  channels: Array<{ name: string, subscribers: number }>
  nextCursor?: string
}

/**
 * Who is connected: the seam for presence. A node tells the registry when one of its connections
 * opens or closes (`add`, `remove`: they return at once), and the registry tells every listener
 * what changed (`onChange`), for this node's connections and, when it is shared, for other
 * nodes' too. Reads are asynchronous so that a cluster-wide store can answer them. Pages are in
 * key order with an opaque cursor, so paging returns each entry once while the set is stable.
 */
export interface ClientRegistry {
  /** Every change from now on, in order. */
  onChange (listener: (change: PresenceChange) => void): void
  /** Changes were lost (a node fell behind or lost its lease): views built from them are stale. */
  onReset? (listener: () => void): void
  /** Adding a connection that is registered changes nothing. */
  add (connection: RegisteredConnection): void
  /** Removing a connection that is not registered changes nothing. */
  remove (connection: RegisteredConnection): void
  /** Resolves once changes are reported: a shared registry follows other nodes from then on. */
  ready? (): Promise<void>
  /**
   * A shared registry's index of the channels with subscribers on any node, for a cluster broker
   * to read (the hub hands it over); absent: the registry knows this process only.
   */
  readonly subscriberIndex?: SharedSubscriberIndex
  /** Takes this node's connections out of the registry and stops following changes. */
  close? (): Promise<void>
  /** One client, or undefined when it has no open connection. */
  get (clientId: string): Promise<ClientInfo | undefined>
  /**
   * A page of clients in clientId order, only those on `channel` when given. `limit` was
   * checked by the caller; a `cursor` this registry cannot have issued is a 400 `HubError`.
   */
  clients (query: { channel?: string, limit: number, cursor?: string }): Promise<ClientPage>
  /** Every connected clientId: the `online-presence` list. */
  clientIds (): Promise<string[]>
  /** Every client with its channels; only clients on at least one of `channels` when given. */
  snapshot (channels?: readonly string[]): Promise<PresenceSnapshot>
  /** Zeros for a channel nobody is on. */
  channel (name: string): Promise<ChannelUse>
  /** A page of the channels with at least one subscriber, in name order. */
  channels (query: { limit: number, cursor?: string }): Promise<ChannelUsePage>
}

/**
 * The open connections of one clientId and the channels they are on. Most clients have a single
 * connection, whose channels are then the client's: the Set and the channel counts are made only
 * when a second connection opens.
 */
class ClientEntry {
  /** Its connection while it has only one. */
  private only: RegisteredConnection | undefined
  /** From its second connection on: all of them, and channel → how many of them are on it. */
  private several: { connections: Set<RegisteredConnection>, channels: Map<string, number> } | undefined

  constructor (first: RegisteredConnection) {
    this.only = first
  }

  get size (): number {
    return this.several?.connections.size ?? (this.only === undefined ? 0 : 1)
  }

  has (connection: RegisteredConnection): boolean {
    return this.several === undefined ? connection === this.only : this.several.connections.has(connection)
  }

  connections (): Iterable<RegisteredConnection> {
    return this.several?.connections ?? (this.only === undefined ? [] : [this.only])
  }

  /** Every channel the client is on. */
  channels (): string[] {
    return this.several === undefined ? [...this.only?.channelNames ?? []] : [...this.several.channels.keys()]
  }

  /** Adds a connection it does not have; returns the channels the client was not on before. */
  add (connection: RegisteredConnection): string[] {
    const several = this.several ?? this.spread()
    several.connections.add(connection)
    const entered: string[] = []
    for (const name of connection.channelNames) {
      const before = several.channels.get(name) ?? 0
      several.channels.set(name, before + 1)
      if (before === 0) entered.push(name)
    }
    return entered
  }

  /** Removes a connection it has; returns the channels the client is on no more. */
  remove (connection: RegisteredConnection): readonly string[] {
    if (this.several === undefined) {
      this.only = undefined
      return connection.channelNames
    }
    this.several.connections.delete(connection)
    const left: string[] = []
    for (const name of connection.channelNames) {
      const before = this.several.channels.get(name) ?? 1
      if (before > 1) {
        this.several.channels.set(name, before - 1)
      } else {
        this.several.channels.delete(name)
        left.push(name)
      }
    }
    return left
  }

  /** The second connection opens: from now on a Set and channel counts. */
  private spread (): NonNullable<ClientEntry['several']> {
    const only = this.only as RegisteredConnection
    this.only = undefined
    this.several = { connections: new Set([only]), channels: new Map(only.channelNames.map((name) => [name, 1])) }
    return this.several
  }
}

/**
 * A channel with more than one connection. A channel with one is only its clientId in the map: a
 * subscribe to many channels of its own then costs a map entry per channel, no object.
 */
interface ChannelEntry {
  /** Connections on the channel. */
  subscribers: number
  /** ClientIds with at least one connection on the channel. */
  readonly clients: Set<string>
  /** Made by the first page of its clients. */
  order: SortedKeys | undefined
}

/** The registry of one process: changes are reported as they happen. Every write is O(channels of the connection). */
export class MemoryClientRegistry implements ClientRegistry {
  private readonly listeners: Array<(change: PresenceChange) => void> = []
  private readonly clientEntries = new Map<string, ClientEntry>()
  /** Channel → the clientId of its only connection, or its entry. */
  private readonly channelEntries = new Map<string, string | ChannelEntry>()
  private readonly clientOrder = new SortedKeys(() => this.clientEntries.keys())
  private readonly channelOrder = new SortedKeys(() => this.channelEntries.keys())
  private connections = 0

  onChange (listener: (change: PresenceChange) => void): void {
    this.listeners.push(listener)
  }

  add (connection: RegisteredConnection): void {
    const { clientId } = connection
    let client = this.clientEntries.get(clientId)
    const joined = client === undefined
    let enteredChannels: readonly string[]
    if (client === undefined) {
      client = new ClientEntry(connection)
      this.clientEntries.set(clientId, client)
      this.clientOrder.add(clientId)
      enteredChannels = connection.channelNames
    } else if (client.has(connection)) {
      return
    } else {
      enteredChannels = client.add(connection)
    }
    this.connections++
    const occupied: string[] = []
    for (const name of connection.channelNames) {
      if (this.addSubscriber(name, clientId)) occupied.push(name)
    }
    for (const name of enteredChannels) {
      const channel = this.channelEntries.get(name)
      // A string: the channel is new, and already says this client.
      if (typeof channel !== 'object') continue
      channel.clients.add(clientId)
      channel.order?.add(clientId)
    }
    if (enteredChannels.length > 0) {
      this.report({ join: true, clientId, whole: joined, changed: enteredChannels, channels: client.channels(), occupancy: occupied, at: Date.now() })
    }
  }

  remove (connection: RegisteredConnection): void {
    const { clientId } = connection
    const client = this.clientEntries.get(clientId)
    if (client === undefined || !client.has(connection)) return
    this.connections--
    const leftChannels = client.remove(connection)
    for (const name of leftChannels) {
      const channel = this.channelEntries.get(name)
      if (typeof channel !== 'object') continue
      channel.clients.delete(clientId)
      channel.order?.delete(clientId)
    }
    const vacated: string[] = []
    for (const name of connection.channelNames) {
      const channel = this.channelEntries.get(name)
      if (channel === undefined) continue
      if (typeof channel === 'string' || --channel.subscribers <= 0) {
        this.channelEntries.delete(name)
        this.channelOrder.delete(name)
        vacated.push(name)
      }
    }
    const left = client.size === 0
    if (left) {
      this.clientEntries.delete(clientId)
      this.clientOrder.delete(clientId)
    }
    if (leftChannels.length > 0) {
      this.report({ join: false, clientId, whole: left, changed: leftChannels, channels: left ? [] : client.channels(), occupancy: vacated, at: Date.now() })
    }
  }

  /** Takes every connection out, reporting each client's leave: the process stops. */
  async close (): Promise<void> {
    for (const client of [...this.clientEntries.values()]) {
      for (const connection of [...client.connections()]) this.remove(connection)
    }
  }

  async get (clientId: string): Promise<ClientInfo | undefined> {
    const client = this.clientEntries.get(clientId)
    return client === undefined ? undefined : info(clientId, client)
  }

  async clients (query: { channel?: string, limit: number, cursor?: string }): Promise<ClientPage> {
    const after = decodeCursor(query.cursor)
    let order = this.clientOrder
    let total = this.clientEntries.size
    if (query.channel !== undefined) {
      const channel = this.channelEntries.get(query.channel)
      if (channel === undefined) return { total: 0, clients: [] }
      if (typeof channel === 'string') {
        const clients = after === undefined || channel > after ? [info(channel, this.clientEntries.get(channel) as ClientEntry)] : []
        return { total: 1, clients }
      }
      order = channel.order ??= new SortedKeys(() => channel.clients)
      total = channel.clients.size
    }
    const { keys, more } = order.page(after, query.limit)
    const clients = keys.map((clientId) => info(clientId, this.clientEntries.get(clientId) as ClientEntry))
    return more ? { total, clients, nextCursor: encodeCursor(keys[keys.length - 1]) } : { total, clients }
  }

  async clientIds (): Promise<string[]> {
    return [...this.clientEntries.keys()]
  }

  async snapshot (channels?: readonly string[]): Promise<PresenceSnapshot> {
    const presence = (clientId: string): ClientPresence => ({
      clientId,
      channels: (this.clientEntries.get(clientId) as ClientEntry).channels()
    })
    if (channels === undefined) return { clients: [...this.clientEntries.keys()].map(presence) }
    const seen = new Set<string>()
    for (const name of channels) {
      const channel = this.channelEntries.get(name)
      if (typeof channel === 'string') seen.add(channel)
      else for (const clientId of channel?.clients ?? []) seen.add(clientId)
    }
    return { clients: [...seen].map(presence) }
  }

  async channel (name: string): Promise<ChannelUse> {
    const channel = this.channelEntries.get(name)
    if (typeof channel === 'string') return { subscribers: 1, clients: 1 }
    return { subscribers: channel?.subscribers ?? 0, clients: channel?.clients.size ?? 0 }
  }

  async channels (query: { limit: number, cursor?: string }): Promise<ChannelUsePage> {
    const after = decodeCursor(query.cursor)
    const { keys, more } = this.channelOrder.page(after, query.limit)
    const channels = keys.map((name) => {
      const channel = this.channelEntries.get(name) as string | ChannelEntry
      return { name, subscribers: typeof channel === 'string' ? 1 : channel.subscribers }
    })
    const total = this.channelEntries.size
    return more ? { total, channels, nextCursor: encodeCursor(keys[keys.length - 1]) } : { total, channels }
  }

  private report (change: PresenceChange): void {
    for (const listener of this.listeners) listener(change)
  }

  /** Counts one more connection on a channel, true when it is its first; the caller adds the client to it where it entered. */
  private addSubscriber (name: string, clientId: string): boolean {
    const channel = this.channelEntries.get(name)
    if (channel === undefined) {
      this.channelEntries.set(name, clientId)
      this.channelOrder.add(name)
      return true
    }
    if (typeof channel === 'string') {
      this.channelEntries.set(name, { subscribers: 2, clients: new Set([channel]), order: undefined })
    } else {
      channel.subscribers++
    }
    return false
  }
}

function info (clientId: string, client: ClientEntry): ClientInfo {
  let oldest = Infinity
  for (const connection of client.connections()) oldest = Math.min(oldest, connection.connectedAt)
  return { clientId, connections: client.size, channels: client.channels(), connectedAt: new Date(oldest).toISOString() }
}
