import t from 'tap'
import type { SseHubOptions } from '../../app.js'
import { build, data, type TestContext, type TestHub, waitUntil } from '../helper.js'
import { REDIS_URL, redisPrefix } from '../redis.js'
import { bearer, keys, mint } from '../security/keys.js'
import type { SseClient } from '../sse-client.js'

/** A reply as a publisher reads it over HTTP. */
interface Reply {
  status: number
  replayed: string | null
  json: any
}

/** POSTs `body` (text, sent as is) to the hub's /publish over a real socket. */
async function post (hub: TestHub, body: string, headers: Record<string, string> = {}): Promise<Reply> {
  const res = await fetch(`${hub.url}/publish`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body })
  return { status: res.status, replayed: res.headers.get('idempotent-replayed'), json: await res.json() }
}

const batch = (...payloads: unknown[]): string => JSON.stringify({ events: payloads.map((payload) => ({ channelName: 'c', type: 't', payload })) })

/** A subscriber of channel c, its opening frames read; its `registered` id is where a resume sees every later event. */
async function subscriber (hub: TestHub): Promise<{ stream: SseClient, head: string }> {
  const stream = await hub.subscribe('/subscribe?channels=c')
  await stream.waitForCount(2)
  return { stream, head: stream.messages[0].id as string }
}

/**
 * The payloads the stream got, once a marker published after everything else arrived, and the
 * payloads history holds since `head` (a client resuming from there): each event once, or twice if it was published twice.
 */
async function delivered (hub: TestHub, stream: SseClient, head: string): Promise<{ live: unknown[], history: unknown[] }> {
  const marker = await post(hub, batch('marker'))
  if (marker.status !== 200) throw new Error(`the marker's publish answered ${marker.status}`)
  await stream.waitFor((client) => client.ofType('t').some((message) => data(message).payload === 'marker'), 5000, 'the marker')
  const resumed = await hub.subscribe('/subscribe?channels=c', { headers: { 'last-event-id': head } })
  await resumed.waitFor((client) => client.ofType('t').some((message) => data(message).payload === 'marker'), 5000, 'the marker from history')
  const payloads = (client: SseClient): unknown[] => client.ofType('t').map((message) => data(message).payload)
  return { live: payloads(stream), history: payloads(resumed) }
}

const MODES: Array<[string, (t: TestContext) => SseHubOptions]> = [
  ['in memory', () => ({})],
  ['in Redis', (t) => ({ redisUrl: REDIS_URL, redisPrefix: redisPrefix(t) })]
]

for (const [mode, options] of MODES) {
  t.test(`${mode}: a retry with the key and the same events gets the first reply, with Idempotent-Replayed, and publishes nothing`, async (t) => {
    const hub = await build(t, options(t))
    const { stream, head } = await subscriber(hub)
    const first = await post(hub, batch(1, 2), { 'idempotency-key': 'order-1' })
    t.equal(first.status, 200)
    t.equal(first.replayed, null, 'the first reply is no replay')
    t.equal(first.json.published, 2)
    const spaced = await post(hub, JSON.stringify(JSON.parse(batch(1, 2)), null, 2), { 'idempotency-key': 'order-1' })
    t.same([spaced.status, spaced.replayed, spaced.json], [200, 'true', first.json], 'other spacing: the same reply')
    const escaped = await post(hub, batch(1, 2).replaceAll('"type":"t"', '"type":"\\u0074"'), { 'idempotency-key': 'order-1' })
    t.same([escaped.status, escaped.replayed, escaped.json], [200, 'true', first.json], 'other escapes: the same reply')
    t.same(await delivered(hub, stream, head), { live: [1, 2, 'marker'], history: [1, 2, 'marker'] }, 'published once')
    t.equal((await hub.app.inject('/stats')).json().published, 3, 'counted once')
  })

  t.test(`${mode}: the key with other events is a 422 that names it, and publishes nothing`, async (t) => {
    const hub = await build(t, options(t))
    const { stream, head } = await subscriber(hub)
    t.equal((await post(hub, batch({ a: 1, b: 2 }), { 'idempotency-key': 'k' })).status, 200)
    for (const [other, why] of [[batch({ a: 1, b: 3 }), 'another payload'], [batch({ b: 2, a: 1 }), 'the keys of the payload in another order'], [batch({ a: 1, b: 2 }, 0), 'one more event']]) {
      const reused = await post(hub, other, { 'idempotency-key': 'k' })
      t.equal(reused.status, 422, why)
      t.same(reused.json, {
        statusCode: 422,
        code: 'SSE_HUB_IDEMPOTENCY_KEY_REUSED',
        error: 'Unprocessable Entity',
        message: 'Idempotency-Key: "k" was used in the last 300 s for a publish of other events; a retry sends the same body, another publish takes a new key'
      })
    }
    t.same(await delivered(hub, stream, head), { live: [{ a: 1, b: 2 }, 'marker'], history: [{ a: 1, b: 2 }, 'marker'] })
  })

  t.test(`${mode}: 50 concurrent duplicates publish once, and all get its ids`, async (t) => {
    const hub = await build(t, options(t))
    const { stream, head } = await subscriber(hub)
    const replies = await Promise.all(Array.from({ length: 50 }, () => post(hub, batch('once', 'twice?'), { 'idempotency-key': 'burst' })))
    t.same(replies.map((reply) => reply.status), replies.map(() => 200))
    t.equal(new Set(replies.map((reply) => JSON.stringify(reply.json))).size, 1, 'one reply')
    t.equal(replies.filter((reply) => reply.replayed === null).length, 1, 'one was the publish, 49 were replays')
    t.same(await delivered(hub, stream, head), { live: ['once', 'twice?', 'marker'], history: ['once', 'twice?', 'marker'] })
  })

  t.test(`${mode}: once idempotencyWindow has passed, the key publishes again`, async (t) => {
    const hub = await build(t, { ...options(t), idempotencyWindow: 300 })
    const { stream, head } = await subscriber(hub)
    const started = Date.now()
    const first = await post(hub, batch('e'), { 'idempotency-key': 'short' })
    // A retry within the window publishes nothing: retried until one publishes.
    let retry = await post(hub, batch('e'), { 'idempotency-key': 'short' })
    t.equal(retry.replayed, 'true', 'within the window, a replay')
    await waitUntil(async () => (retry = await post(hub, batch('e'), { 'idempotency-key': 'short' })).replayed === null, 5000, 'the key to expire')
    t.ok(Date.now() - started >= 300, `published again after ${Date.now() - started} ms`)
    t.not(retry.json.ids[0], first.json.ids[0], 'a new publish')
    t.same(await delivered(hub, stream, head), { live: ['e', 'e', 'marker'], history: ['e', 'e', 'marker'] })
  })

  t.test(`${mode}: keys are the publisher's own: the sub of its JWT; the publish token and JWTs without sub share theirs`, async (t) => {
    const hub = await build(t, { ...options(t), insecure: false, publishToken: 'a-publish-token-of-16+', jwtSecret: keys.secret })
    const as = (sub?: string): Record<string, string> => bearer(mint(keys.secret, { hub: { publish: ['*'] }, ...(sub === undefined ? {} : { sub }) }))
    const key = { 'idempotency-key': 'shared-name' }
    const alice = await post(hub, batch('alice'), { ...as('alice'), ...key })
    const bob = await post(hub, batch('bob'), { ...as('bob'), ...key })
    t.same([alice.status, bob.status], [200, 200], 'two subjects, one key name: two publishes')
    t.same((await post(hub, batch('alice'), { ...as('alice'), ...key })).json, alice.json, 'each gets its own reply back')
    t.equal((await post(hub, batch('bob'), { ...as('alice'), ...key })).status, 422, 'a subject cannot get another\'s reply')
    const token = await post(hub, batch('token'), { ...bearer('a-publish-token-of-16+'), ...key })
    t.equal(token.status, 200)
    const noSub = await post(hub, batch('token'), { ...as(), ...key })
    t.same([noSub.replayed, noSub.json], ['true', token.json], 'a JWT without sub shares the publish token\'s keys')
  })
}

t.test('a bad Idempotency-Key is a 400 that names the header, and publishes nothing', async (t) => {
  const hub = await build(t)
  const { stream, head } = await subscriber(hub)
  for (const key of ['', 'x'.repeat(129), 'with space', 'clé', 'tab\tkey']) {
    const reply = await hub.app.inject({ method: 'POST', url: '/publish', payload: { events: [{ channelName: 'c', type: 't', payload: 'bad' }] }, headers: { 'idempotency-key': key } })
    t.equal(reply.statusCode, 400, JSON.stringify(key))
    t.match(reply.json(), { code: 'SSE_HUB_BAD_IDEMPOTENCY_KEY', message: /^Idempotency-Key: .* is not a valid key \(1\.\.128 visible ASCII characters, no spaces\)$/ })
  }
  // Node joins a repeated header with ", ": two keys are no key.
  const twice = await fetch(`${hub.url}/publish`, { method: 'POST', headers: [['content-type', 'application/json'], ['idempotency-key', 'a'], ['idempotency-key', 'b']], body: batch('bad') })
  t.equal(twice.status, 400, 'the header given twice')
  t.match(await twice.json(), { message: 'Idempotency-Key: "a, b" is not a valid key (1..128 visible ASCII characters, no spaces)' })
  t.equal((await post(hub, batch('long'), { 'idempotency-key': '~'.repeat(128) })).status, 200, '128 visible characters are a key')
  t.same(await delivered(hub, stream, head), { live: ['long', 'marker'], history: ['long', 'marker'] })
})

t.test('idempotencyWindow 0: the header is ignored', async (t) => {
  const hub = await build(t, { idempotencyWindow: 0 })
  const { stream, head } = await subscriber(hub)
  for (const key of ['k', 'k', 'not a key']) {
    const reply = await post(hub, batch(key), { 'idempotency-key': key })
    t.same([reply.status, reply.replayed], [200, null])
  }
  t.same(await delivered(hub, stream, head), { live: ['k', 'k', 'not a key', 'marker'], history: ['k', 'k', 'not a key', 'marker'] })
  const docs = (await hub.app.inject('/docs/json')).json().paths['/publish'].post
  t.notOk('422' in docs.responses, 'the API documentation shows no 422')
  t.notOk(docs.parameters?.some((parameter: { name: string }) => parameter.name === 'idempotency-key'), 'nor the header')
})

t.test('in memory, past maxIdempotencyKeys the oldest key is forgotten before its window ends', async (t) => {
  const hub = await build(t, { maxIdempotencyKeys: 2 })
  for (const key of ['k1', 'k2', 'k3']) t.equal((await post(hub, batch(key), { 'idempotency-key': key })).status, 200)
  t.equal((await post(hub, batch('k3'), { 'idempotency-key': 'k3' })).replayed, 'true', 'the newest is kept')
  t.equal((await post(hub, batch('k1'), { 'idempotency-key': 'k1' })).replayed, null, 'the oldest was forgotten: a new publish')
})
