import { type Static, Type } from '@sinclair/typebox'
import { CHANNEL_NAME_RULE, EVENT_TYPE_RULE } from './names.js'

/** The body of every error reply. */
export const ErrorSchema = Type.Object({
  statusCode: Type.Integer(),
  code: Type.Optional(Type.String()),
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

export const SubscribeQuerySchema = Type.Object({
  channels: Type.String({ description: 'comma-separated channel names' }),
  clientId: Type.Optional(Type.String({ description: `presence identity (${CHANNEL_NAME_RULE}); generated when absent` })),
  lastEventId: Type.Optional(Type.String({ description: 'as the Last-Event-ID header, for clients that cannot set headers' }))
})

export const SubscribeHeadersSchema = Type.Object({
  'last-event-id': Type.Optional(Type.String())
})

export const LastEventQuerySchema = Type.Object({
  channel: ChannelNameSchema
})

export const LastEventReplySchema = Type.Object({
  response: Type.String({ description: 'JSON string of the last {type, payload}, or "{}"' })
})

export const HealthReplySchema = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('draining')])
})
