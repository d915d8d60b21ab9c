import { generateKeyPairSync } from 'node:crypto'
import { createServer } from 'node:http'
import t from 'tap'
import { JwksKeySet } from '../../../lib/auth/jwks.js'
import { waitUntil } from '../../helper.js'

// The key set's timing, with short intervals: the background refresh, the retry after a failed
// fetch, one fetch shared by concurrent askers, and what a set leaves out.

const publicJwk = (kid: string | undefined, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }), ...(kid === undefined ? {} : { kid }), ...extra
})

async function serve (t: { teardown (fn: () => unknown): void }, answer: () => { status: number, body?: unknown }): Promise<{ url: string, fetches: () => number }> {
  let fetches = 0
  const server = createServer((_req, res) => {
    fetches++
    const { status, body } = answer()
    res.writeHead(status, { 'content-type': 'application/json' }).end(body === undefined ? '' : JSON.stringify(body))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/jwks`, fetches: () => fetches }
}

t.test('refreshed in the background; after a failed fetch, tried again sooner', async (t) => {
  let up = false
  const keys = [publicJwk('a')]
  const server = await serve(t, () => up ? { status: 200, body: { keys } } : { status: 500 })
  const set = new JwksKeySet({ issuer: 'i', url: server.url, unknownKidInterval: 100, refreshInterval: 300 })
  t.teardown(() => set.close())
  await set.start()
  t.equal(set.key('a', 'ES256'), undefined, 'down at start: no key')
  up = true
  await waitUntil(() => set.key('a', 'ES256') !== undefined, 2000, 'the retry after the failed fetch')
  const afterRetry = server.fetches()
  keys.push(publicJwk('b'))
  await waitUntil(() => set.key('b', 'ES256') !== undefined, 2000, 'the background refresh')
  t.ok(server.fetches() > afterRetry)
})

t.test('concurrent askers for an unknown kid share one fetch', async (t) => {
  const server = await serve(t, () => ({ status: 200, body: { keys: [publicJwk('a')] } }))
  const set = new JwksKeySet({ issuer: 'i', url: server.url })
  t.teardown(() => set.close())
  await set.start()
  const found = await Promise.all(Array.from({ length: 50 }, () => set.keyAfterRefresh('z', 'ES256')))
  t.ok(found.every((key) => key === undefined))
  t.equal(server.fetches(), 2, 'the start and one fetch for all fifty')
})

t.test('a set keeps only signing keys it can use; a token without kid gets the only key of its algorithm', async (t) => {
  const keys = [
    publicJwk('enc', { use: 'enc' }),
    { kty: 'oct', kid: 'hmac', k: 'c2VjcmV0' },
    publicJwk('wrong-alg', { alg: 'RS256' }),
    { kty: 'RSA', kid: 'short', n: 'AQAB', e: 'AQAB' },
    publicJwk(undefined)
  ]
  const server = await serve(t, () => ({ status: 200, body: { keys } }))
  const set = new JwksKeySet({ issuer: 'i', url: server.url })
  t.teardown(() => set.close())
  await set.start()
  for (const kid of ['enc', 'hmac', 'wrong-alg', 'short']) t.equal(set.key(kid, 'ES256'), undefined, kid)
  t.equal(set.key(undefined, 'ES256')?.algorithm, 'ES256', 'the key without kid')
  t.equal(set.key(undefined, 'RS256'), undefined)
})
