import type { Redis } from 'ioredis'
import { brokerDown, HubError } from '../base/errors.js'
import { transaction } from '../redis/connection.js'
import { decodeCursor, encodeCursor } from './paging.js'
import type { ChannelUse, ChannelUsePage, ClientInfo, ClientPage } from './registry.js'

/** The paging scripts of redis-scripts.ts, as ioredis defines them. */
export type PresenceScripts = Record<'presenceClients' | 'presenceChannels', (...args: string[]) => Promise<unknown>>

/**
 * The reads of the cluster registry (redis-registry.ts): a client, the counts, pages of clients
 * and channels, each in one round trip (a MULTI or a script), with the keys listed in
 * redis-scripts.ts.
 */
export class PresenceReads {
  constructor (private readonly redis: Redis, private readonly prefix: string, private readonly scripts: PresenceScripts) {}

  async get (clientId: string): Promise<ClientInfo | undefined> {
    const [times, channels] = await presenceRead(async () =>
      await transaction(this.redis.multi().hvals(this.key(`client:${clientId}`)).hkeys(this.key(`on:${clientId}`))) as string[][])
    if (times.length === 0) return undefined
    return { clientId, connections: times.length, channels: channels.sort(), connectedAt: new Date(Math.min(...times.map(Number))).toISOString() }
  }

  async clients (query: { channel?: string, limit: number, cursor?: string }): Promise<ClientPage> {
    const after = decodeCursor(query.cursor) ?? ''
    const set = query.channel === undefined ? 'clients' : `channel:${query.channel}`
    const reply = await presenceRead(async () => await this.scripts.presenceClients(this.prefix, set, after, String(query.limit)) as Array<string | number>)
    const clients: ClientInfo[] = []
    for (let i = 1; i + 3 < reply.length; i += 4) {
      clients.push({
        clientId: String(reply[i]),
        connections: Number(reply[i + 1]),
        channels: splitList(String(reply[i + 3])),
        connectedAt: new Date(Number(reply[i + 2])).toISOString()
      })
    }
    const total = Number(reply[0])
    const nextCursor = cutPage(clients, query.limit, (client) => client.clientId)
    return nextCursor === undefined ? { total, clients } : { total, clients, nextCursor }
  }

  async clientIds (): Promise<string[]> {
    return presenceRead(async () => await this.redis.zrange(this.key('clients'), 0, -1))
  }

  async channel (name: string): Promise<ChannelUse> {
    const [subscribers, clients] = await presenceRead(async () => await transaction(this.redis.multi().hget(this.key('subscribers'), name).zcard(this.key(`channel:${name}`))))
    return { subscribers: Number(subscribers ?? 0), clients: Number(clients ?? 0) }
  }

  async channels (query: { limit: number, cursor?: string }): Promise<ChannelUsePage> {
    const after = decodeCursor(query.cursor) ?? ''
    const reply = await presenceRead(async () => await this.scripts.presenceChannels(this.prefix, after, String(query.limit)) as string[])
    const channels = []
    for (let i = 1; i + 1 < reply.length; i += 2) channels.push({ name: reply[i], subscribers: Number(reply[i + 1]) })
    const total = Number(reply[0])
    const nextCursor = cutPage(channels, query.limit, (channel) => channel.name)
    return nextCursor === undefined ? { total, channels } : { total, channels, nextCursor }
  }

  private key (name: string): string {
    return `${this.prefix}presence:${name}`
  }
}

/** Runs a read; a Redis that does not answer is a 503 that says so. */
export async function presenceRead<T> (operation: () => Promise<T>): Promise<T> {
  try {
    return await operation()
  } catch (err) {
    if (err instanceof HubError) throw err
    throw brokerDown('presence', `Redis did not answer (${(err as Error).message})`)
  }
}

/** A comma-joined list as the scripts store it (names hold no comma). */
export function splitList (list: string): string[] {
  return list === '' ? [] : list.split(',')
}

/** The scripts read one item more than a page: when it is there, drops it and returns the cursor of the next page. */
function cutPage<T> (items: T[], limit: number, keyOf: (item: T) => string): string | undefined {
  if (items.length <= limit) return undefined
  items.length = limit
  return encodeCursor(keyOf(items[limit - 1]))
}
