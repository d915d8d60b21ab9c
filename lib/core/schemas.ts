import { type Static, Type } from '@sinclair/typebox'
import { CHANNEL_NAME_RULE, EVENT_TYPE_RULE } from './names.js'

/** The body of every error reply. */
export const ErrorSchema = Type.Object({
  statusCode: Type.Integer(),
  code: Type.String({ description: 'stable, e.g. SSE_HUB_BAD_CHANNELS' }),
  error: Type.String(),
  message: Type.String()
}, { description: 'what went wrong; the message names the offending value' })

export const ChannelNameSchema = Type.String({ description: CHANNEL_NAME_RULE })

/**
 * One published event. Names are only typed here: the hub checks their alphabet itself (it must,
 * for `hub.publish` calls from an embedding app), with messages that quote the bad value.
 */
export const EventSchema = Type.Object({
  channelName: ChannelNameSchema,
  type: Type.String({ description: `${EVENT_TYPE_RULE}; not registered, lastEvent or online-presence` }),
  payload: Type.Unknown({ description: 'any JSON value, null included' })
})

export function publishBodySchema (maxEventsPerPublish: number) {
  return Type.Object({
    events: Type.Array(EventSchema, { maxItems: maxEventsPerPublish })
  })
}
export type PublishBody = Static<ReturnType<typeof publishBodySchema>>

export const PublishReplySchema = Type.Object({
  published: Type.Integer({ description: 'events accepted' }),
  ids: Type.Array(Type.String(), { description: 'their ids, in order, as in the `id:` lines' })
})

/** A JWT in the query, for EventSource, which cannot send headers (a cookie or a Bearer header also works). */
const tokenQuery = {
  token: Type.Optional(Type.String({ description: 'JWT (subscribeAuth, presence reads); also as cookie sse_hub_token or Authorization: Bearer' }))
}

export const SubscribeQuerySchema = Type.Object({
  channels: Type.String({ description: 'comma-separated channel names' }),
  clientId: Type.Optional(Type.String({ description: `presence identity (${CHANNEL_NAME_RULE}); generated when absent` })),
  lastEventId: Type.Optional(Type.String({ description: 'as the Last-Event-ID header, for clients that cannot set headers' })),
  presence: Type.Optional(Type.String({ description: '1 or true: also receive online-presence events (0 or false: not)' })),
  ...tokenQuery
})

export const SubscribeHeadersSchema = Type.Object({
  'last-event-id': Type.Optional(Type.String())
})

export const LastEventQuerySchema = Type.Object({
  channel: ChannelNameSchema,
  ...tokenQuery
})

export const LastEventReplySchema = Type.Object({
  response: Type.String({ description: 'JSON string of the last {type, payload}, or "{}"' })
})

export const MetricsReplySchema = Type.String({ description: 'Prometheus text exposition format 0.0.4: sse_hub_* metrics and the process defaults' })

export const HealthReplySchema = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('draining'), Type.Literal('broker-down')])
})

/** `limit` and `cursor` are strings here and checked by the hub, so that a 400 can quote the bad value. */
const pageQuery = {
  limit: Type.Optional(Type.String({ description: 'page size, an integer from 1 to 1000; default 1000' })),
  cursor: Type.Optional(Type.String({ description: '`nextCursor` of the previous page' }))
}

export const ClientsQuerySchema = Type.Object({
  channel: Type.Optional(Type.String({ description: `only the clients on this channel (${CHANNEL_NAME_RULE})` })),
  ...pageQuery,
  ...tokenQuery
})

/**
 * `/clients/*` and `/channels/*` rather than `:clientId` and `:name`: a wildcard takes a name
 * whole, `/` included (as is or as %2F), and is not cut at the router's `maxParamLength` (100 by
 * default, the embedding app's setting), while names may have 128 characters.
 */
export const ClientParamsSchema = Type.Object({
  '*': Type.String({ description: 'the clientId' })
})

/** A connected client: all its open connections. */
export const ClientSchema = Type.Object({
  clientId: Type.String(),
  connections: Type.Integer({ description: 'open connections (tabs, devices) with this clientId' }),
  channels: Type.Array(Type.String(), { description: 'the union of the channels of its connections' }),
  connectedAt: Type.String({ format: 'date-time', description: 'ISO 8601 time of its oldest open connection' })
})

export const ClientPageSchema = Type.Object({
  total: Type.Integer({ description: 'every match, not only this page' }),
  clients: Type.Array(ClientSchema, { description: 'in clientId order' }),
  nextCursor: Type.Optional(Type.String({ description: 'pass as `cursor` for the next page; absent on the last page' }))
})

export const ChannelsQuerySchema = Type.Object({ ...pageQuery, ...tokenQuery })

export const ChannelParamsSchema = Type.Object({
  '*': Type.String({ description: `the channel name (${CHANNEL_NAME_RULE})` })
})

export const ChannelSummarySchema = Type.Object({
  name: Type.String(),
  subscribers: Type.Integer({ description: 'open connections on the channel' }),
  lastEventAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'ISO 8601 time of its last event, or null' })
})

export const ChannelPageSchema = Type.Object({
  total: Type.Integer({ description: 'channels with at least one subscriber' }),
  channels: Type.Array(ChannelSummarySchema, { description: 'in name order' }),
  nextCursor: Type.Optional(Type.String({ description: 'pass as `cursor` for the next page; absent on the last page' }))
})

export const ChannelDetailSchema = Type.Object({
  name: Type.String(),
  subscribers: Type.Integer({ description: 'open connections on the channel' }),
  clients: Type.Integer({ description: 'distinct clientIds among them' }),
  lastEvent: Type.Union([
    Type.Object({
      id: Type.String(),
      type: Type.String(),
      payload: Type.Unknown({ description: 'the JSON value the publisher sent' }),
      publishedAt: Type.String({ format: 'date-time' })
    }),
    Type.Null()
  ], { description: 'null when nothing was published there' })
})

export const PresenceQuerySchema = Type.Object({
  channels: Type.Optional(Type.String({ description: 'comma-separated channel names: only clients on one of them' })),
  ...tokenQuery
})

/** The query of a read that takes nothing but a token (`/firehose`, `/stats`). */
export const TokenQuerySchema = Type.Object({ ...tokenQuery })

const count = (description: string) => Type.Integer({ minimum: 0, description })

/** `GET /stats`: `Hub.counters()` and the health status, of the process that answers. */
export const StatsSchema = Type.Object({
  status: Type.Union(HealthReplySchema.properties.status.anyOf, { description: 'as /health says it' }),
  connections: count('open streams: subscribers, /presence and /firehose streams'),
  clients: count('distinct clientIds among the subscriber streams'),
  channels: count('channels with at least one subscriber stream'),
  published: count('events this process accepted since start (POST /publish answered 200, and app.hub.publish)'),
  delivered: count('event frames written to streams since start'),
  replayed: count('events sent from history to resuming subscribers since start'),
  slowDisconnects: count('streams cut since start because their client fell behind'),
  refused: Type.Object({
    draining: count('while draining'),
    'max-connections': count('at maxConnections'),
    'rate-limit': count('over connectRateLimit'),
    'broker-down': count('while the broker (Redis) was unreachable')
  }, { description: 'streams turned away for now (retry:) since start, by reason' })
}, { description: 'the counters of the process that answers: in cluster mode, of that node only, not of the cluster' })
