// The client's types, checked by `tsc` (the root project and client/tsconfig.json): this file
// compiles only if the typed event map is enforced. It is never run.
import { connect, type HubClient, type HubStatus, type LastEvent } from '../../client/client.js'

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false
function expectType<T extends true> (): T | undefined { return undefined }

interface Events {
  chat: { from: string, text: string }
  count: number
}

const hub = connect<Events>({ url: 'https://hub.example.com/events', channels: ['room1'], token: async () => 'jwt' })
expectType<Equal<typeof hub, HubClient<Events>>>()

hub.on('chat', (payload, meta) => {
  expectType<Equal<typeof payload, { from: string, text: string }>>()
  expectType<Equal<typeof meta.type, 'chat'>>()
  expectType<Equal<typeof meta.id, string>>()
})
hub.on('count', (payload: number) => payload + 1)
hub.on('*', (payload, meta) => {
  expectType<Equal<typeof payload, { from: string, text: string } | number>>()
  expectType<Equal<typeof meta.type, 'chat' | 'count'>>()
})
hub.on('lastEvent', (last, meta) => {
  expectType<Equal<typeof last, LastEvent<Events>>>()
  if (last?.type === 'count') expectType<Equal<typeof last.payload, number>>()
  expectType<Equal<typeof meta.id, undefined>>()
})
const remove = hub.on('chat', () => {})
remove()
hub.onStatus((status: HubStatus) => {
  if (status.state === 'open') expectType<Equal<typeof status.resumed, boolean>>()
  if (status.state === 'refused') expectType<Equal<typeof status.statusCode, number>>()
})
hub.subscribe(['room2'])
hub.unsubscribe('room1')
expectType<Equal<typeof hub.role, 'alone' | 'leader' | 'follower'>>()

// @ts-expect-error a chat's payload is an object, not a string
hub.on('chat', (payload: string) => payload)
// @ts-expect-error no such event in the map
hub.on('unknown', () => {})
// @ts-expect-error a token is a string or a function that gives one
connect({ url: 'https://hub.example.com/events', channels: 'a', token: 42 })
// @ts-expect-error channels are required
connect({ url: 'https://hub.example.com/events' })

// Without a map, any type and any payload.
connect({ url: '/events', channels: 'a', share: false }).on('anything', (payload) => {
  expectType<Equal<typeof payload, unknown>>()
})
