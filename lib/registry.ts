/** What the registry needs to know of a connection. */
export interface RegisteredConnection {
  readonly clientId: string
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

/**
 * Who is connected. Writes are synchronous and local (a connection opens or closes here); reads
 * are asynchronous so that a cluster-wide store can answer them.
 */
export interface ClientRegistry {
  add (connection: RegisteredConnection): void
  remove (connection: RegisteredConnection): void
  /** One client, or undefined when it has no open connection. */
  get (clientId: string): Promise<ClientInfo | undefined>
  /** Distinct clients and their connections. */
  count (): Promise<{ clients: number, connections: number }>
}

/** The registry of one process. */
export class MemoryClientRegistry implements ClientRegistry {
  private readonly clients = new Map<string, Set<RegisteredConnection>>()
  private connections = 0

  add (connection: RegisteredConnection): void {
    let set = this.clients.get(connection.clientId)
    if (set === undefined) {
      set = new Set()
      this.clients.set(connection.clientId, set)
    }
    set.add(connection)
    this.connections++
  }

  remove (connection: RegisteredConnection): void {
    const set = this.clients.get(connection.clientId)
    if (set === undefined || !set.delete(connection)) return
    this.connections--
    if (set.size === 0) this.clients.delete(connection.clientId)
  }

  async get (clientId: string): Promise<ClientInfo | undefined> {
    const set = this.clients.get(clientId)
    if (set === undefined) return undefined
    const channels = new Set<string>()
    let oldest = Infinity
    for (const connection of set) {
      for (const name of connection.channelNames) channels.add(name)
      oldest = Math.min(oldest, connection.connectedAt)
    }
    return { clientId, connections: set.size, channels: [...channels], connectedAt: new Date(oldest).toISOString() }
  }

  async count (): Promise<{ clients: number, connections: number }> {
    return { clients: this.clients.size, connections: this.connections }
  }
}
