import { writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify from 'fastify'
import t from 'tap'
import sseHub, { type SseHubOptions } from '../../app.js'
import { Authenticator, type Grant } from '../../lib/auth/auth.js'
import { build, data, type TestContext } from '../helper.js'
import { bearer, forge, hmac, keys, mint, now, rs256, tamper } from './keys.js'

const batch = (...channels: string[]) => ({ events: channels.map((channelName, i) => ({ channelName, type: 'order', payload: i })) })

/** A hub with a logger whose lines the test reads. */
async function loggedHub (t: TestContext, options: SseHubOptions = {}) {
  const lines: string[] = []
  const app = Fastify({ logger: { level: 'info', stream: { write: (line: string) => { lines.push(line) } } } })
  t.teardown(() => app.close())
  await app.register(sseHub, options)
  await app.ready()
  const publish = (body: unknown, headers: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url: '/publish', payload: body as object, headers })
  return { app, lines, publish }
}

t.test('secure by default: a generated token, logged once, is the only way to publish', async (t) => {
  const { app, lines, publish } = await loggedHub(t)
  const startLines = lines.filter((line) => line.includes('shown only now'))
  t.equal(startLines.length, 1, 'one log line at start')
  const token = /shown only now: ([A-Za-z0-9_-]+)/.exec(JSON.parse(startLines[0]).msg)?.[1] ?? ''
  t.equal(token.length, 43, '32 random bytes, base64url')
  t.equal(JSON.parse(startLines[0]).level, 40, 'a warning: visible at LOG_LEVEL=warn too')

  const missing = await publish(batch('a'))
  t.equal(missing.statusCode, 401)
  t.same(missing.json(), { statusCode: 401, code: 'SSE_HUB_NO_TOKEN', error: 'Unauthorized', message: 'token: missing' })
  t.equal(missing.headers['www-authenticate'], 'Bearer realm="sse-hub"')
  const wrong = await publish(batch('a'), bearer(`${token.slice(0, -1)}x`))
  t.equal(wrong.statusCode, 401)
  t.equal(wrong.json().code, 'SSE_HUB_BAD_TOKEN')
  t.equal(wrong.headers['www-authenticate'], 'Bearer realm="sse-hub", error="invalid_token"')
  t.equal((await publish(batch('a'), { authorization: `Basic ${token}` })).statusCode, 401, 'only Bearer')
  t.equal((await publish(batch('a'), { cookie: `sse_hub_token=${token}` })).statusCode, 401, 'never a cookie for a publish (CSRF)')
  t.equal((await app.inject({ method: 'POST', url: `/publish?token=${token}`, payload: batch('a') })).statusCode, 401, 'never the query')
  const ok = await publish(batch('a'), bearer(token))
  t.equal(ok.statusCode, 200)
  t.equal((await publish(batch('a'), { authorization: `bearer   ${token}` })).statusCode, 200, 'the scheme is case-insensitive')

  // The same token reads presence, from the header, the query or the cookie.
  t.equal((await app.inject('/clients')).statusCode, 401)
  t.equal((await app.inject({ url: '/clients', headers: bearer(token) })).statusCode, 200)
  t.equal((await app.inject(`/channels?token=${token}`)).statusCode, 200)
  t.equal((await app.inject({ url: '/channels/a', headers: { cookie: `theme=dark; sse_hub_token=${token}` } })).statusCode, 200)

  // In process, the embedding app needs no token.
  t.same((await app.hub.publish([{ channelName: 'a', type: 'in-process', payload: 1 }])).published, 1)

  const logged = lines.join('\n')
  t.equal(logged.split(token).length - 1, 1, 'the token is in the log once: at start, never again')
  t.match(logged, /"url":"\/channels\?token=\[redacted\]"/, 'a query token is redacted from the request log')
})

t.test('each start generates another token', async (t) => {
  const tokens = []
  for (let i = 0; i < 2; i++) {
    const { lines } = await loggedHub(t)
    tokens.push(/shown only now: (\S+)"/.exec(lines.join('\n'))?.[1])
  }
  t.not(tokens[0], tokens[1])
})

t.test('insecure opens publishing and presence reads, with a warning', async (t) => {
  const { app, lines, publish } = await loggedHub(t, { insecure: true })
  t.equal((await publish(batch('a'))).statusCode, 200)
  t.equal((await app.inject('/clients')).statusCode, 200)
  const warnings = lines.map((line) => JSON.parse(line)).filter((line) => line.level === 40)
  t.equal(warnings.length, 1)
  t.match(warnings[0].msg, /^insecure: publishing and presence reads are open to anyone/)
  t.notOk(lines.some((line) => line.includes('shown only now')), 'no token generated')
})

t.test('a configured token: no generated one, and the same checks', async (t) => {
  const publishToken = 'configured-token-0123456789'
  const { lines, publish } = await loggedHub(t, { publishToken })
  t.notOk(lines.some((line) => line.includes('shown only now')))
  t.equal((await publish(batch('a'), bearer(publishToken))).statusCode, 200)
  for (const other of [publishToken.slice(0, -1), `${publishToken}x`, publishToken.toUpperCase(), 'x', 'x'.repeat(9000)]) {
    t.equal((await publish(batch('a'), bearer(other))).statusCode, 401, `${other.slice(0, 30)} (${other.length} characters)`)
  }
  t.notOk(lines.join('\n').includes(publishToken), 'never logged')
})

t.test('the static token is compared whole, whatever the lengths', async (t) => {
  const auth = new Authenticator({ publishToken: ['the-static-token-0123'] })
  t.ok((auth.authenticate('the-static-token-0123', true) as Grant).presence)
  // Digests of equal length are compared: a shorter or longer guess is a 401, never a RangeError of timingSafeEqual.
  for (const guess of ['t', 'the-static-token-012', 'the-static-token-01234', 'THE-STATIC-TOKEN-0123', '']) {
    t.throws(() => auth.authenticate(guess, true), { statusCode: 401, message: /^token: / }, JSON.stringify(guess))
  }
  t.throws(() => auth.authenticate('the-static-token-0123', false), { statusCode: 401, message: /^token: / }, 'not where only a JWT is accepted')
})

const kinds = [
  { name: 'HS256 with jwtSecret', options: { jwtSecret: keys.secret }, key: keys.secret, other: keys.otherSecret },
  { name: 'RS256 with an RSA jwtPublicKey', options: { jwtPublicKey: keys.rsa.publicKey }, key: keys.rsa.privateKey, other: keys.otherRsa.privateKey },
  { name: 'ES256 with an EC jwtPublicKey', options: { jwtPublicKey: keys.ec.publicKey }, key: keys.ec.privateKey, other: keys.otherEc.privateKey }
]

for (const kind of kinds) {
  t.test(`JWT ${kind.name}: grants, expiry, tampering, wrong keys`, async (t) => {
    const hub = await build(t, { ...kind.options, insecure: false })
    const client = await hub.subscribe('/subscribe?channels=orders,orders:eu,news')
    await client.waitForCount(4)
    const orders = mint(kind.key, { hub: { publish: ['orders*'] } })

    const ok = await hub.publish(batch('orders', 'orders:eu'), bearer(orders))
    t.equal(ok.statusCode, 200)
    await client.waitForCount(6)
    t.same(client.messages.slice(4).map((m) => data(m).channelName), ['orders', 'orders:eu'])

    // A batch is covered whole or refused whole, naming the first channel not covered.
    const mixed = await hub.publish(batch('orders', 'news', 'sport'), bearer(orders))
    t.equal(mixed.statusCode, 403)
    t.same(mixed.json, {
      statusCode: 403, code: 'SSE_HUB_FORBIDDEN', error: 'Forbidden', message: 'events/1/channelName: the token does not allow publishing to "news"'
    })
    t.equal((await hub.publish({ events: [{ channelName: 'bad name', type: 't', payload: 1 }] }, bearer(orders))).statusCode, 400, '400 before 403')
    t.equal((await hub.publish(batch('orders'), bearer(mint(kind.key, { hub: { publish: ['*'] } })))).statusCode, 200, '* covers all')
    t.equal((await hub.publish(batch('orders'), bearer(mint(kind.key, { hub: { publish: ['orders'] } })))).statusCode, 200, 'an exact name')
    t.equal((await hub.publish(batch('orders:eu'), bearer(mint(kind.key, { hub: { publish: ['orders'] } })))).statusCode, 403, 'an exact name is no prefix')
    t.equal((await hub.publish(batch('orders'), bearer(mint(kind.key, { sub: 'svc' })))).statusCode, 403, 'no hub claim: no grant')
    t.equal((await hub.publish(batch('orders'), bearer(mint(kind.key, { hub: { subscribe: ['*'], presence: true } })))).statusCode, 403, 'subscribe is not publish')

    const refused: Array<[string, string, RegExp]> = [
      ['expired', mint(kind.key, { hub: { publish: ['*'] }, exp: now() - 10 }), /^token: has expired$/],
      ['not yet valid', mint(kind.key, { hub: { publish: ['*'] }, nbf: now() + 60 }), /^token: is not valid yet/],
      ['tampered', tamper(orders, { hub: { publish: ['*'] } }), /^token: has an invalid signature$/],
      ['signed with another key', mint(kind.other, { hub: { publish: ['*'] } }), /^token: has an invalid signature$/],
      ['alg none', forge({ alg: 'none', typ: 'JWT' }, { hub: { publish: ['*'] } }), /^token: is signed with an algorithm this hub does not accept \(it accepts /],
      ['alg none, with the signature of a valid token', forge({ alg: 'none' }, { hub: { publish: ['*'] } }, () => Buffer.from(orders.split('.')[2], 'base64url')), /^token: is signed with an algorithm this hub does not accept/],
      ['a header without alg', forge({ typ: 'JWT' }, { hub: { publish: ['*'] } }, hmac(kind.key)), /^token: is neither the publish token nor a well-formed JWT$/],
      ['not a JWT', 'just-some-text', /^token: is neither the publish token nor a well-formed JWT$/],
      ['a malformed claim', mint(kind.key, { hub: { publish: 'orders*' } }), /^token: claim hub.publish is malformed/],
      ['a bad pattern', mint(kind.key, { hub: { publish: ['ord*ers'] } }), /^token: claim hub.publish.0 is malformed/]
    ]
    for (const [name, token, message] of refused) {
      const res = await hub.publish(batch('orders'), bearer(token))
      t.equal(res.statusCode, 401, `${name}: 401`)
      t.match(res.json.message, message, `${name}: ${res.json.message}`)
    }

    // Nothing of any refused request was delivered: the next event is the first after the two accepted.
    await hub.app.hub.publish([{ channelName: 'news', type: 'after', payload: null }])
    await client.waitForCount(9)
    t.same(client.messages.slice(4).map((m) => [data(m).channelName, m.event]),
      [['orders', 'order'], ['orders:eu', 'order'], ['orders', 'order'], ['orders', 'order'], ['news', 'after']])
  })
}

t.test('the algorithm must be of the key\'s family', async (t) => {
  const rsaHub = await build(t, { jwtPublicKey: keys.rsa.publicKey, insecure: false })
  const all = { hub: { publish: ['*'] } }
  const cases: Array<[string, string, number]> = [
    ['RS256', mint(keys.rsa.privateKey, all, 'RS256'), 200],
    // The classic confusion: an HMAC keyed with the public key, which everybody has.
    ['HS256 over the RSA public key', forge({ alg: 'HS256', typ: 'JWT' }, all, hmac(keys.rsa.publicKey)), 401],
    ['PS256 with the right key', mint(keys.rsa.privateKey, all, 'PS256'), 401],
    ['an RS256 header over an ES256 signature', forge({ alg: 'RS256' }, all, rs256(keys.ec.privateKey)), 401]
  ]
  for (const [name, token, status] of cases) t.equal((await rsaHub.publish(batch('a'), bearer(token))).statusCode, status, `RSA key: ${name}`)
  const confusion = await rsaHub.publish(batch('a'), bearer(cases[1][1]))
  t.equal(confusion.json.message, 'token: is signed with an algorithm this hub does not accept (it accepts RS256, RS384, RS512)')
  // The alg is the client's to write: the answer (which is also logged) names the problem, never the value.
  for (const alg of ['HS256', '<img src=x onerror=alert(1)>', 'x'.repeat(2000)]) {
    const res = await rsaHub.publish(batch('a'), bearer(forge({ alg, typ: 'JWT' }, all, hmac(keys.rsa.publicKey))))
    t.equal(res.statusCode, 401)
    t.notOk(res.json.message.includes(alg), `alg ${alg.slice(0, 20)} is not echoed: ${res.json.message}`)
  }

  const ecHub = await build(t, { jwtPublicKey: keys.ec.publicKey, insecure: false })
  t.equal((await ecHub.publish(batch('a'), bearer(mint(keys.ec384.privateKey, all, 'ES384')))).statusCode, 401, 'EC P-256 key: ES384')
  t.equal((await ecHub.publish(batch('a'), bearer(mint(keys.rsa.privateKey, all)))).statusCode, 401, 'EC key: RS256')
  t.equal((await ecHub.publish(batch('a'), bearer(forge({ alg: 'HS256' }, all, hmac(keys.ec.publicKey))))).statusCode, 401, 'EC key: HS256 over it')

  const hmacHub = await build(t, { jwtSecret: keys.secret, insecure: false })
  t.equal((await hmacHub.publish(batch('a'), bearer(mint(keys.secret, all, 'HS384')))).statusCode, 200, 'secret: HS384')
  t.equal((await hmacHub.publish(batch('a'), bearer(mint(keys.rsa.privateKey, all)))).statusCode, 401, 'secret: RS256')
  t.match((await hmacHub.publish(batch('a'), bearer(mint(keys.rsa.privateKey, all)))).json.message, /\(it accepts HS256, HS384, HS512\)$/)

  const both = await build(t, { jwtSecret: keys.secret, jwtPublicKey: keys.ec.publicKey, insecure: false })
  t.equal((await both.publish(batch('a'), bearer(mint(keys.secret, all)))).statusCode, 200, 'secret and key: HS256')
  t.equal((await both.publish(batch('a'), bearer(mint(keys.ec.privateKey, all)))).statusCode, 200, 'secret and key: ES256')
  t.equal((await both.publish(batch('a'), bearer(forge({ alg: 'HS256' }, all, hmac(keys.ec.publicKey))))).statusCode, 401, 'secret and key: HS256 over the public key')

  const tokenOnly = await build(t, { publishToken: 'only-a-static-token-here', insecure: false })
  t.match((await tokenOnly.publish(batch('a'), bearer(mint(keys.secret, all)))).json.message, /\(no JWT key is configured\)/)
})

t.test('issuer and audience, when configured, are required', async (t) => {
  const hub = await build(t, { jwtSecret: keys.secret, jwtIssuer: 'https://auth.example', jwtAudience: 'sse-hub', insecure: false })
  const grant = { hub: { publish: ['*'] } }
  t.equal((await hub.publish(batch('a'), bearer(mint(keys.secret, { ...grant, iss: 'https://auth.example', aud: 'sse-hub' })))).statusCode, 200)
  t.equal((await hub.publish(batch('a'), bearer(mint(keys.secret, { ...grant, iss: 'https://auth.example', aud: ['other', 'sse-hub'] })))).statusCode, 200, 'one of several audiences')
  for (const [name, claims] of [
    ['no iss', { aud: 'sse-hub' }],
    ['no aud', { iss: 'https://auth.example' }],
    ['wrong iss', { iss: 'https://evil.example', aud: 'sse-hub' }],
    ['wrong aud', { iss: 'https://auth.example', aud: 'other' }]
  ] as const) {
    t.equal((await hub.publish(batch('a'), bearer(mint(keys.secret, { ...grant, ...claims })))).statusCode, 401, name)
  }
})

t.test('presence reads need the static token or a JWT with hub.presence', async (t) => {
  const publishToken = 'presence-static-token-0123'
  const hub = await build(t, { publishToken, jwtSecret: keys.secret, insecure: false })
  const watcher = mint(keys.secret, { hub: { presence: true } })
  const publisher = mint(keys.secret, { hub: { publish: ['*'], subscribe: ['*'] } })
  for (const url of ['/clients', '/clients/someone', '/channels', '/channels/a', '/presence', '/firehose', '/stats']) {
    const none = await hub.app.inject(url)
    t.equal(none.statusCode, 401, `${url}: none`)
    t.equal(none.headers['content-type'], 'application/json; charset=utf-8', `${url}: a JSON error, not a stream`)
    const forbidden = await hub.app.inject({ url, headers: bearer(publisher) })
    t.equal(forbidden.statusCode, 403, `${url}: without hub.presence`)
    t.equal(forbidden.json().message, 'presence: the token does not allow presence reads (hub.presence)')
  }
  for (const headers of [bearer(publishToken), bearer(watcher)]) {
    t.equal((await hub.app.inject({ url: '/clients', headers })).statusCode, 200)
    t.equal((await hub.app.inject({ url: '/clients/nobody', headers })).statusCode, 404, 'past the check, the route answers')
    t.equal((await hub.app.inject({ url: '/channels/a', headers })).statusCode, 200)
  }
  // The stream, as a browser opens it: the token in the query or in the cookie.
  const subscriber = await hub.subscribe('/subscribe?channels=a&clientId=ann')
  await subscriber.waitForCount(2)
  for (const open of [{ query: `?token=${watcher}` }, { query: '', headers: { cookie: `sse_hub_token=${watcher}` } }]) {
    const stream = await hub.subscribe(`/presence${open.query}`, { headers: open.headers })
    t.equal(stream.status, 200)
    await stream.waitForCount(1)
    t.same(data(stream.messages[0]), { clients: [{ clientId: 'ann', channels: ['a'] }] })
    stream.close()
  }
})

t.test('bad key configuration stops the registration, naming the option', async (t) => {
  const dir = tmpdir()
  const publicFile = join(dir, `sse-hub-test-${process.pid}-public.pem`)
  writeFileSync(publicFile, keys.rsa.publicKey)
  const fromFile = await build(t, { jwtPublicKey: publicFile, insecure: false })
  t.equal((await fromFile.publish(batch('a'), bearer(mint(keys.rsa.privateKey, { hub: { publish: ['a'] } })))).statusCode, 200, 'a public key from a file')

  const cases: Array<[SseHubOptions, RegExp]> = [
    [{ jwtSecret: 'short' }, /^invalid option jwtSecret: Expected string length greater or equal to 32/],
    [{ publishToken: 'short' }, /^invalid option publishToken: Expected string length greater or equal to 16/],
    [{ jwtPublicKey: keys.rsa.privateKey }, /^invalid option jwtPublicKey: this is a private key/],
    [{ jwtPublicKey: '-----BEGIN PUBLIC KEY-----\nnonsense\n-----END PUBLIC KEY-----' }, /^invalid option jwtPublicKey: not a PEM public key/],
    [{ jwtPublicKey: join(dir, 'no-such-key.pem') }, /^invalid option jwtPublicKey: neither a PEM key nor a readable file \(ENOENT\)/],
    [{ jwtPublicKey: keys.ed25519.publicKey }, /^invalid option jwtPublicKey: a ed25519 key is not supported/],
    [{ subscribeAuth: true }, /^invalid option subscribeAuth: it needs jwtSecret, jwtPublicKey or jwksUrl/],
    [{ subscribeAuth: true, publishToken: 'a-static-token-is-no-jwt-key' }, /^invalid option subscribeAuth/]
  ]
  for (const [options, message] of cases) {
    const app = Fastify()
    await t.rejects(async () => { await app.register(sseHub, options).ready() }, { code: 'SSE_HUB_BAD_CONFIG', message }, message.source)
    await app.close()
  }
})
