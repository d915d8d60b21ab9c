import { createPublicKey, generateKeyPairSync } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import { createSigner } from 'fast-jwt'
import t from 'tap'
import { build, type TestContext } from '../helper.js'
import { bearer, forge, hmac } from './keys.js'

// JWTs verified with the keys an issuer publishes (JWKS): a real key server in the test, which
// counts its fetches, rotates its keys, and goes down.

interface Key { kid: string, privateKey: string, publicKey: string, algorithm: 'RS256' | 'ES256' | 'EdDSA' }

const spki = { type: 'spki', format: 'pem' } as const
const pkcs8 = { type: 'pkcs8', format: 'pem' } as const
const rsaKey = (kid: string): Key => ({ kid, algorithm: 'RS256', ...generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: spki, privateKeyEncoding: pkcs8 }) })
const ecKey = (kid: string): Key => ({ kid, algorithm: 'ES256', ...generateKeyPairSync('ec', { namedCurve: 'P-256', publicKeyEncoding: spki, privateKeyEncoding: pkcs8 }) })
const edKey = (kid: string): Key => ({ kid, algorithm: 'EdDSA', ...generateKeyPairSync('ed25519', { publicKeyEncoding: spki, privateKeyEncoding: pkcs8 }) })

/** A JWKS endpoint serving `keys` (changeable), or 503 while `down`; `fetches` counts the GETs. */
interface KeyServer { url: string, keys: Key[], down: boolean, fetches: number }

async function keyServer (t: TestContext, served: Key[]): Promise<KeyServer> {
  const state = { url: '', keys: served, down: false, fetches: 0 }
  const server: Server = createServer((_req, res) => {
    state.fetches++
    if (state.down) {
      res.writeHead(503).end()
      return
    }
    const jwks = state.keys.map((key) => ({ ...createPublicKey(key.publicKey).export({ format: 'jwk' }), kid: key.kid, use: 'sig' }))
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: jwks }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  state.url = `http://127.0.0.1:${(server.address() as { port: number }).port}/.well-known/jwks.json`
  return state
}

const ISSUER = 'https://auth.example.com/'
const OTHER_ISSUER = 'https://other.example.com/'
const grant = { hub: { publish: ['*'] } }
const batch = { events: [{ channelName: 'orders', type: 'created', payload: 1 }] }

function sign (key: Key, claims: Record<string, unknown> = {}, issuer = ISSUER): string {
  return createSigner({ key: key.privateKey, algorithm: key.algorithm, kid: key.kid, iss: issuer, expiresIn: 600_000 })({ ...grant, ...claims })
}

t.test('RS256, ES256 and EdDSA tokens verify with the keys their issuer publishes', async (t) => {
  const issued = [rsaKey('r1'), ecKey('e1'), edKey('d1')]
  const server = await keyServer(t, issued)
  const hub = await build(t, { insecure: false, jwksUrl: { [ISSUER]: server.url } })
  t.equal(server.fetches, 1, 'fetched once, at start')
  for (const key of issued) t.equal((await hub.publish(batch, bearer(sign(key)))).statusCode, 200, key.algorithm)
  t.equal(server.fetches, 1, 'no fetch per token')
})

t.test('a rotated key is taken after one fetch; a flood of unknown kids makes no more fetches for 30 s', async (t) => {
  const server = await keyServer(t, [rsaKey('r1')])
  const hub = await build(t, { insecure: false, jwksUrl: { [ISSUER]: server.url } })
  const next = ecKey('e2')
  server.keys = [...server.keys, next]
  t.equal((await hub.publish(batch, bearer(sign(next)))).statusCode, 200, 'the new key, after one fetch')
  t.equal(server.fetches, 2)

  const answers = await Promise.all(Array.from({ length: 500 }, (_, i) => hub.publish(batch, bearer(sign({ ...next, kid: `unknown-${i}` })))))
  t.same([...new Set(answers.map((answer) => answer.statusCode))], [401], '500 unknown kids: all 401')
  t.match(answers[0].json, { message: 'token: is signed with a key its issuer does not publish' })
  t.equal(server.fetches, 2, 'and not one more fetch')
})

t.test('the key set decides the algorithm: no HMAC over a public key, no other algorithm, no alg none', async (t) => {
  const rsa = rsaKey('r1')
  const server = await keyServer(t, [rsa])
  const hub = await build(t, { insecure: false, jwksUrl: { [ISSUER]: server.url } })
  const payload = { ...grant, iss: ISSUER }
  const cases: Array<[string, string]> = [
    ['HS256 keyed with the RSA public key', forge({ alg: 'HS256', kid: 'r1' }, payload, hmac(rsa.publicKey))],
    ['RS384 with the RS256 key', createSigner({ key: rsa.privateKey, algorithm: 'RS384', kid: 'r1', iss: ISSUER })(grant)],
    ['alg none', forge({ alg: 'none', kid: 'r1' }, payload)]
  ]
  for (const [name, token] of cases) {
    const answer = await hub.publish(batch, bearer(token))
    t.equal(answer.statusCode, 401, name)
    t.match(answer.json.message, /^token: is signed with an algorithm this hub does not accept/, name)
  }
})

t.test('one issuer\'s keys never verify another\'s tokens, and no URL comes from a token', async (t) => {
  const ours = rsaKey('shared-kid')
  const theirs = rsaKey('shared-kid')
  const server = await keyServer(t, [ours])
  const otherServer = await keyServer(t, [theirs])
  const trap = await keyServer(t, [theirs])
  const hub = await build(t, { insecure: false, jwksUrl: { [ISSUER]: server.url, [OTHER_ISSUER]: otherServer.url } })
  t.equal((await hub.publish(batch, bearer(sign(theirs, {}, OTHER_ISSUER)))).statusCode, 200, 'the other issuer with its own key')
  const crossed = await hub.publish(batch, bearer(sign(theirs, {}, ISSUER)))
  t.match(crossed, { statusCode: 401, json: { message: 'token: has an invalid signature' } }, 'the other issuer\'s key, claiming our issuer: the same kid, refused')

  // A token may name any URL, as its issuer or in jku/x5u: the hub asks none of them.
  const fromTrap = createSigner({ key: theirs.privateKey, algorithm: 'RS256', kid: 'shared-kid', iss: trap.url, header: { alg: 'RS256', jku: trap.url, x5u: trap.url } })(grant)
  t.equal((await hub.publish(batch, bearer(fromTrap))).statusCode, 401)
  t.equal(trap.fetches, 0, 'the URL in the token was never fetched')
})

t.test('the key server down: known keys keep working, unknown ones are 401, never 500; down at start, the hub starts', async (t) => {
  const known = ecKey('e1')
  const server = await keyServer(t, [known])
  const hub = await build(t, { insecure: false, jwksUrl: { [ISSUER]: server.url } })
  server.down = true
  t.equal((await hub.publish(batch, bearer(sign(known)))).statusCode, 200, 'a known key')
  t.match(await hub.publish(batch, bearer(sign(edKey('d9')))), { statusCode: 401, json: { message: 'token: is signed with a key its issuer does not publish' } })
  t.equal(server.fetches, 2, 'the start, and one try for the unknown kid')
  t.equal((await hub.publish(batch, bearer(sign(known)))).statusCode, 200, 'the known key still, after the failed fetch')

  const downServer = await keyServer(t, [known])
  downServer.down = true
  const downHub = await build(t, { insecure: false, jwksUrl: { [ISSUER]: downServer.url } })
  t.equal(downServer.fetches, 1, 'tried at start')
  t.equal((await downHub.publish(batch, bearer(sign(known)))).statusCode, 401, 'no key yet: 401')
})
