import type { Broker } from '../../broker/broker.js'
import { badChannelName } from '../../base/errors.js'
import { checkClientId } from '../../base/names.js'
import { isChannelName } from '../../base/rules.js'
import { pageLimit, type PageQuery } from '../../registry/paging.js'
import type { ClientInfo, ClientPage, ClientRegistry } from '../../registry/registry.js'

/** A page request for clients, optionally only those on one channel. */
export interface ClientQuery extends PageQuery {
  channel?: string
}

/** A channel in the `/channels` listing. */
export interface ChannelSummary {
  name: string
  /** Open connections on it. */
  subscribers: number
  /** ISO 8601 time of its last event; null when nothing was published there. */
  lastEventAt: string | null
}

/** A page of channels with at least one subscriber, in name order. */
export interface ChannelPage {
  total: number
  channels: ChannelSummary[]
  nextCursor?: string
}

/** One channel, in use or not (then zeros and null). */
export interface ChannelDetail {
  name: string
  /** Open connections on it. */
  subscribers: number
  /** Distinct clientIds among them. */
  clients: number
  lastEvent: { id: string, type: string, payload: unknown, publishedAt: string } | null
}

/**
 * The presence reads of the HTTP API and of an embedding app: who is connected and on which
 * channel, from the registry, with each channel's last event from the broker. A query is checked
 * here, once, whoever asks.
 */
export class PresenceReads {
  constructor (private readonly registry: ClientRegistry, private readonly broker: Broker) {}

  /** `GET /clients`: a page of clients in clientId order. Throws a 400 `HubError` on a bad query. */
  async clients (query: ClientQuery = {}): Promise<ClientPage> {
    const limit = pageLimit(query.limit)
    const channel = query.channel === undefined ? undefined : checkChannel(query.channel, 'channel')
    return this.registry.clients({ channel, limit, cursor: query.cursor })
  }

  /** `GET /clients/:clientId`: undefined when it has no open connection. */
  async client (clientId: string): Promise<ClientInfo | undefined> {
    return this.registry.get(checkClientId(clientId))
  }

  /** `GET /channels`: a page of the channels with at least one subscriber, in name order. */
  async channels (query: PageQuery = {}): Promise<ChannelPage> {
    const page = await this.registry.channels({ limit: pageLimit(query.limit), cursor: query.cursor })
    const lastEvents = await Promise.all(page.channels.map(({ name }) => this.broker.lastEvent(name)))
    const channels = page.channels.map(({ name, subscribers }, i): ChannelSummary => {
      const last = lastEvents[i]
      return { name, subscribers, lastEventAt: last === undefined ? null : new Date(last.publishedAt).toISOString() }
    })
    const { total, nextCursor } = page
    return nextCursor === undefined ? { total, channels } : { total, channels, nextCursor }
  }

  /** `GET /channels/:name`: who is on it and its last event; zeros and null for an unused channel. */
  async channel (name: string): Promise<ChannelDetail> {
    checkChannel(name, 'name')
    const [use, last] = await Promise.all([this.registry.channel(name), this.broker.lastEvent(name)])
    const lastEvent = last === undefined
      ? null
      : { id: last.id, type: last.type, payload: last.payload, publishedAt: new Date(last.publishedAt).toISOString() }
    return { name, subscribers: use.subscribers, clients: use.clients, lastEvent }
  }
}

function checkChannel (name: string, label: string): string {
  if (!isChannelName(name)) {
    throw badChannelName(label, name)
  }
  return name
}
