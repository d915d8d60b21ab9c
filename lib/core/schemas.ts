import { type Static, type TSchema, type TString, Type } from '@sinclair/typebox'
import { type CheckedEvents, checkEventNames, parseChannelList } from '../base/names.js'
import { badIdempotencyKey } from '../base/errors.js'
import { CHANNEL_NAME_RULE, EVENT_TYPE_RULE, IDEMPOTENCY_KEY, IDEMPOTENCY_KEY_RULE } from '../base/rules.js'

/** Where a schema keeps its `afterSchema` step (a symbol: it never reaches the API documentation). */
export const AFTER_SCHEMA = Symbol('sse-hub.afterSchema')

/**
 * Gives a schema a step that runs once the schema accepted a value: the checks a schema cannot
 * express (with messages that quote the bad value), throwing a `HubError`, and the parsing, so
 * that the route and the access check read the parsed value and nothing is checked twice. The
 * validator of the hub's routes (plugins/errors.ts) runs it; the value it returns replaces the
 * request's (its body or query).
 */
export function withAfterSchema<T extends TSchema, Parsed> (schema: T, after: (value: Static<T>) => Parsed): T {
  return Object.assign(schema, { [AFTER_SCHEMA]: after })
}

/** The `afterSchema` step of a schema, if it has one. */
export function afterSchemaOf (schema: unknown): ((value: unknown) => unknown) | undefined {
  return (schema as { [AFTER_SCHEMA]?: (value: unknown) => unknown } | undefined)?.[AFTER_SCHEMA]
}

/** The body of every error reply. */
export const ErrorSchema = Type.Object({
  statusCode: Type.Integer(),
  code: Type.String({ description: 'stable, e.g. SSE_HUB_BAD_CHANNELS' }),
  error: Type.String(),
  message: Type.String()
}, { description: 'what went wrong; the message names the offending value' })

/**
 * The error replies a route can give, keyed by status, each with the `ErrorSchema` body and a
 * description of when it comes (for the API documentation). Serialisation is that of `ErrorSchema`.
 */
export function errorResponses<Status extends number> (descriptions: Record<Status, string>): Record<Status, typeof ErrorSchema> {
  const responses = {} as Record<Status, typeof ErrorSchema>
  for (const [status, description] of Object.entries(descriptions) as Array<[`${Status}`, string]>) {
    responses[Number(status) as Status] = Type.Object(ErrorSchema.properties, { description })
  }
  return responses
}

/** The 401 and 403 of every presence read (`/clients`, `/channels`, `/presence`, `/firehose`, `/stats`). */
export const PRESENCE_READ_ERRORS = {
  401: 'no token (Bearer header, token query parameter or sse_hub_token cookie), or an invalid or expired one; with WWW-Authenticate',
  403: 'the token does not allow presence reads (a JWT without hub.presence)'
} as const

/** One kind of frame of an SSE stream, as the API documentation lists it. */
export interface StreamEventDoc {
  /** The `event:` line: a fixed name, or a schema of the names the publishers choose. */
  event: string | TString
  /** Whether the frame has an `id:` line, the stream's position that a reconnect sends back as `Last-Event-ID`. */
  id: 'always' | 'sometimes' | 'never'
  /** What the frame is and when it comes. */
  description: string
  /** The JSON of its one `data:` line. */
  data: TSchema
}

/**
 * The `200` of an SSE route: a `text/event-stream` body whose schema has one item per kind of
 * frame (`event`, `id`, `data`), and a description that lists them. An SSE route takes its
 * response over (`reply.openStream()`), so no serializer ever uses this schema: it is there for
 * the API documentation.
 */
export function eventStreamResponse (description: string, events: StreamEventDoc[]) {
  const idSchema = Type.String({ description: 'the position of the stream, sent back as Last-Event-ID on a reconnect' })
  const frames = events.map((frame) => Type.Object({
    event: typeof frame.event === 'string' ? Type.Literal(frame.event) : frame.event,
    ...(frame.id === 'always' ? { id: idSchema } : frame.id === 'sometimes' ? { id: Type.Optional(idSchema) } : {}),
    data: frame.data
  }, { description: frame.description }))
  const list = events.map((frame) => `- \`${typeof frame.event === 'string' ? frame.event : '<type>'}\`: ${frame.description}`)
  return {
    description: [description, '', 'Events (an `event:` line, then one `data:` line of JSON):', ...list].join('\n'),
    headers: {
      'X-SSE-Hub-Refused': Type.String({ description: 'only on a stream refused for now: max-connections, draining, rate-limit, broker-down or auth-unavailable' })
    },
    content: {
      'text/event-stream': { schema: Type.Union(frames, { description: 'one frame of the stream' }) }
    }
  }
}

export const ChannelNameSchema = Type.String({ description: CHANNEL_NAME_RULE })

/**
 * One published event. Names are only typed here: their alphabets are checked after the schema
 * (`checkEventNames`), with messages that quote the bad value.
 */
export const EventSchema = Type.Object({
  channelName: ChannelNameSchema,
  type: Type.String({ description: `${EVENT_TYPE_RULE}; not registered, lastEvent or online-presence` }),
  payload: Type.Unknown({ description: 'any JSON value, null included' })
})

/** The body of `POST /publish`, then its names checked (once: the access check and the hub read the result). */
export function publishBodySchema (maxEventsPerPublish: number) {
  return withAfterSchema(Type.Object({
    events: Type.Array(EventSchema, { maxItems: maxEventsPerPublish })
  }), (body): PublishBody => ({ events: checkEventNames(body.events) }))
}
/** A publish body as the route and the access check read it: a checked batch. */
export interface PublishBody { events: CheckedEvents }

export const PublishReplySchema = Type.Object({
  published: Type.Integer({ description: 'events accepted' }),
  ids: Type.Array(Type.String(), { description: 'their ids, in order, as in the `id:` lines' })
}, { description: 'published: every event of the batch' })

/**
 * The headers `POST /publish` reads besides its token: an `Idempotency-Key`, checked once its
 * schema accepted the headers (a bad key is a 400 that names the header). Only while `idempotencyWindow` is not 0.
 */
export const PublishHeadersSchema = withAfterSchema(Type.Object({
  'idempotency-key': Type.Optional(Type.String({
    description: `${IDEMPOTENCY_KEY_RULE}. A retry with the same key and the same events within idempotencyWindow ` +
      'gets the first reply again (with Idempotent-Replayed: true) and publishes nothing; with other events it is a 422. ' +
      'Keys are kept per publisher: the sub of its JWT; the publish token and tokens without sub share theirs.'
  }))
}), (headers) => {
  const key = headers['idempotency-key']
  if (key !== undefined && !IDEMPOTENCY_KEY.test(key)) throw badIdempotencyKey(key)
  return headers
})

/** The `200` of `POST /publish` while `idempotencyWindow` is not 0: the reply, and the header of a replay. */
export const KeyedPublishReplySchema = Type.Object(PublishReplySchema.properties, {
  description: 'published: every event of the batch; or, with Idempotent-Replayed, the reply of the first publish with the Idempotency-Key',
  headers: {
    'Idempotent-Replayed': Type.String({ enum: ['true'], description: 'only on a replay: nothing was published, the ids are those of the first publish with the key' })
  }
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

/** The query of `GET /subscribe` as the route and the access check read it: `channels` parsed into distinct names. */
export type SubscribeQuery = Omit<Static<typeof SubscribeQuerySchema>, 'channels'> & { channels: readonly string[] }

/** `SubscribeQuerySchema`, then its channel list parsed (once: the access check and the route read the result). */
export function subscribeQuerySchema (maxChannelsPerSubscription: number) {
  return withAfterSchema(Type.Object(SubscribeQuerySchema.properties),
    (query): SubscribeQuery => ({ ...query, channels: parseChannelList(query.channels, maxChannelsPerSubscription) }))
}

export const SubscribeHeadersSchema = Type.Object({
  'last-event-id': Type.Optional(Type.String({ description: 'the id of the last event received (EventSource sends it on a reconnect): resume from there' }))
})

export const LastEventQuerySchema = Type.Object({
  channel: ChannelNameSchema,
  ...tokenQuery
})

export const LastEventReplySchema = Type.Object({
  response: Type.String({ description: 'JSON string of the last {type, payload}, or "{}"' })
}, { description: 'the channel\'s last event' })

/** `GET /metrics`: text, not JSON. A string reply with its own `Content-Type` is sent as is, never serialised. */
export const MetricsResponse = {
  description: 'the Prometheus text exposition format 0.0.4: the sse_hub_* metrics and the process defaults',
  content: { 'text/plain': { schema: Type.String() } }
}

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
 * default, the embedding app's setting), while names may have 128 characters. The `title` is
 * the parameter's name in the API documentation (`/clients/{clientId}`).
 */
export const ClientParamsSchema = Type.Object({
  '*': Type.String({ title: 'clientId', description: `the clientId (${CHANNEL_NAME_RULE}); a / in it as is or as %2F` })
})

/** A connected client: all its open connections. */
export const ClientSchema = Type.Object({
  clientId: Type.String(),
  connections: Type.Integer({ description: 'open connections (tabs, devices) with this clientId' }),
  channels: Type.Array(Type.String(), { description: 'the union of the channels of its connections' }),
  connectedAt: Type.String({ format: 'date-time', description: 'ISO 8601 time of its oldest open connection' })
}, { description: 'a connected client: all its open connections' })

export const ClientPageSchema = Type.Object({
  total: Type.Integer({ description: 'every match, not only this page' }),
  clients: Type.Array(ClientSchema, { description: 'in clientId order' }),
  nextCursor: Type.Optional(Type.String({ description: 'pass as `cursor` for the next page; absent on the last page' }))
}, { description: 'a page of the connected clients' })

export const ChannelsQuerySchema = Type.Object({ ...pageQuery, ...tokenQuery })

export const ChannelParamsSchema = Type.Object({
  '*': Type.String({ title: 'name', description: `the channel name (${CHANNEL_NAME_RULE}); a / in it as is or as %2F` })
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
}, { description: 'a page of the channels in use' })

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
  ], { description: 'null when nothing was published there, or (with subscribeAuth) when the token may not subscribe to the channel' })
}, { description: 'the channel, used or not' })

export const PresenceQuerySchema = Type.Object({
  channels: Type.Optional(Type.String({ description: 'comma-separated channel names: only clients on one of them' })),
  ...tokenQuery
})

/** The `data` of a live event: what the publisher sent, on the channel it chose. */
const LiveEventDataSchema = Type.Object({
  channelName: ChannelNameSchema,
  type: Type.String(),
  payload: Type.Unknown({ description: 'exactly the JSON value the publisher sent' })
})

const REFUSAL_TEXT = 'A stream refused only for now (draining, maxConnections, connectRateLimit, in cluster mode ' +
  'Redis unreachable, or authUrl not answering) is this same 200 with only `retry: <ms>` and the stream closed at once, and the header ' +
  '`X-SSE-Hub-Refused`: EventSource gives up for good on any other status, and comes back by itself after a 200.'

/** `GET /subscribe`: the subscriber's stream. */
export const SubscribeStreamResponse = eventStreamResponse(
  'The stream of the channels asked for: `retry: <ms>`, `registered`, then a `lastEvent` per channel (or, on a ' +
  'resumed stream, every event missed since `Last-Event-ID`), then the live events; a `: heartbeat` comment ' +
  'after `heartbeatInterval` of silence. ' + REFUSAL_TEXT,
  [
    {
      event: 'registered',
      id: 'sometimes',
      description: 'first, once: the clientId and whether the stream resumed; with an `id:` on a new stream',
      data: Type.Object({
        type: Type.Literal('registered'),
        payload: Type.String({ description: 'JSON string of {"clientId": string, "resumed": boolean}' })
      })
    },
    {
      event: 'lastEvent',
      id: 'never',
      description: 'unless resumed, one per channel: its last event',
      data: Type.Object({
        channelName: ChannelNameSchema,
        type: Type.Literal('lastEvent'),
        payload: Type.String({ description: 'JSON string of the last {type, payload}, or "{}" when nothing was published there' })
      })
    },
    {
      event: Type.String({ description: `the type the publisher gave, e.g. message (${EVENT_TYPE_RULE})` }),
      id: 'always',
      description: 'a published event (`message`, or any other type a publisher chose): live, or replayed on a resumed stream',
      data: LiveEventDataSchema
    },
    {
      event: 'online-presence',
      id: 'never',
      description: 'with presence=1: every connected clientId, after the opening frames and again when one joins or leaves (at most once per presenceInterval)',
      data: Type.Object({
        type: Type.Literal('online-presence'),
        payload: Type.String({ description: 'JSON string of the array of clientIds' })
      })
    }
  ]
)

const PresenceClientSchema = Type.Object({
  clientId: Type.String(),
  channels: Type.Array(Type.String(), { description: 'its channels at that moment' })
})

/** `GET /firehose`: every event of every channel, live. */
export const FirehoseStreamResponse = eventStreamResponse(
  'Every event published on any channel from the moment the stream opened (in cluster mode, through any node), as ' +
  'subscribers get them: `retry: <ms>` first, then the live events; no snapshots and no resume. A `: heartbeat` ' +
  'comment after `heartbeatInterval` of silence. ' + REFUSAL_TEXT,
  [{
    event: Type.String({ description: `the type the publisher gave (${EVENT_TYPE_RULE})` }),
    id: 'always',
    description: 'a published event, on any channel',
    data: LiveEventDataSchema
  }]
)

/** `GET /presence`: who is online, live. */
export const PresenceStreamResponse = eventStreamResponse(
  'Who is online: a `snapshot`, then `join` when a clientId opens its first connection (onto one of `channels`, ' +
  'when given) and `leave` when its last one closes; no frame has an `id:`. ' + REFUSAL_TEXT,
  [
    { event: 'snapshot', id: 'never', description: 'first, once: the clients online', data: Type.Object({ clients: Type.Array(PresenceClientSchema) }) },
    { event: 'join', id: 'never', description: 'a client came', data: PresenceClientSchema },
    { event: 'leave', id: 'never', description: 'a client left', data: Type.Object({ clientId: Type.String() }) }
  ]
)

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
    'broker-down': count('while the broker (Redis) was unreachable'),
    'auth-unavailable': count('while authUrl did not answer in time, failed or answered what the hub cannot read')
  }, { description: 'streams turned away for now (retry:) since start, by reason' })
}, { description: 'the counters of the process that answers: in cluster mode, of that node only, not of the cluster' })
export type Stats = Static<typeof StatsSchema>
