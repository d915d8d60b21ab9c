import { request as httpsRequest } from 'node:https'
import { Writable } from 'node:stream'
import Fastify from 'fastify'
import t from 'tap'
import sseHub from '../../app.js'
import { resolveConfig } from '../../lib/config/config.js'
import { build, data } from '../helper.js'
import { bearer, keys, mint, now } from '../security/keys.js'
import { testCertificate } from '../tls.js'

const reader = (claims: Record<string, unknown> = {}): string =>
  mint(keys.secret, { sub: 'alice', hub: { subscribe: ['news'] }, exp: now() + 600, ...claims })

/** The attributes of a Set-Cookie header: `name=value` first, then each attribute as written. */
function cookieOf (header: unknown): string[] {
  if (typeof header !== 'string') throw new Error(`one Set-Cookie header expected, got ${JSON.stringify(header)}`)
  return header.split('; ')
}

t.test('POST /session keeps a JWT as the HttpOnly cookie sse_hub_token, for no longer than the token', async (t) => {
  const hub = await build(t, { subscribeAuth: true, jwtSecret: keys.secret })
  const token = reader()
  const res = await hub.app.inject({ method: 'POST', url: '/session', headers: bearer(token) })
  t.equal(res.statusCode, 204)
  t.equal(res.body, '')
  t.equal(res.headers['cache-control'], 'no-store')
  const [value, ...attributes] = cookieOf(res.headers['set-cookie'])
  t.equal(value, `sse_hub_token=${token}`)
  t.same(attributes.filter((a) => !a.startsWith('Max-Age=')), ['Path=/', 'HttpOnly', 'SameSite=Lax'], 'plain HTTP: no Secure, and Lax (browsers refuse SameSite=None without Secure)')
  const maxAge = Number(attributes.find((a) => a.startsWith('Max-Age='))?.slice('Max-Age='.length))
  t.ok(maxAge > 590 && maxAge <= 600, `Max-Age ${maxAge}: what is left of the token's 600 s`)

  // A token without exp: a cookie that ends with the browser's session.
  const forever = await hub.app.inject({ method: 'POST', url: '/session', headers: bearer(reader({ exp: undefined })) })
  t.equal(forever.statusCode, 204)
  t.notOk(cookieOf(forever.headers['set-cookie']).some((a) => a.startsWith('Max-Age=')), 'no Max-Age')

  const cleared = await hub.app.inject({ method: 'DELETE', url: '/session' })
  t.equal(cleared.statusCode, 204)
  t.same(cookieOf(cleared.headers['set-cookie']), ['sse_hub_token=', 'Path=/', 'HttpOnly', 'Max-Age=0', 'SameSite=Lax'])
})

t.test('POST /session: 401 for anything but a valid JWT in the Authorization header', async (t) => {
  const publishToken = 'static-publisher-token-0123'
  const hub = await build(t, { insecure: false, publishToken, subscribeAuth: true, jwtSecret: keys.secret })
  const cases: Array<[string, Record<string, string>, string, RegExp]> = [
    ['no token', {}, '', /^token: missing/],
    ['the static publish token', bearer(publishToken), '', /^token: is neither the publish token nor a well-formed JWT/],
    ['an expired JWT', bearer(reader({ exp: now() - 60 })), '', /^token: has expired/],
    ['a JWT signed with another key', bearer(mint(keys.otherSecret, { sub: 'alice' })), '', /^token: has an invalid signature/],
    ['a JWT in the query', {}, `?token=${reader()}`, /^token: missing/],
    ['a JWT in the cookie', { cookie: `sse_hub_token=${reader()}` }, '', /^token: missing/]
  ]
  for (const [name, headers, query, message] of cases) {
    const res = await hub.app.inject({ method: 'POST', url: `/session${query}`, headers })
    t.equal(res.statusCode, 401, name)
    t.match(res.json(), { statusCode: 401, message }, name)
    t.match(res.headers['www-authenticate'], /^Bearer realm="sse-hub"/, `${name}: WWW-Authenticate`)
    t.equal(res.headers['set-cookie'], undefined, `${name}: no cookie`)
  }
})

t.test('the cookie set by POST /session opens the subscribe stream, with the token\'s sub, under the prefix', async (t) => {
  const app = Fastify()
  await app.register(sseHub, { prefix: '/events', insecure: true, subscribeAuth: true, jwtSecret: keys.secret })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/events`
  const posted = await fetch(`${url}/session`, { method: 'POST', headers: bearer(reader()) })
  t.equal(posted.status, 204)
  const setCookie = posted.headers.get('set-cookie') ?? ''
  t.match(setCookie, /; Path=\/events; HttpOnly;/, 'the path is the hub\'s prefix')
  const cookie = setCookie.split('; ')[0]

  const stream = await fetch(`${url}/subscribe?channels=news&clientId=mallory`, { headers: { cookie } })
  t.equal(stream.status, 200)
  const body = stream.body!.getReader()
  let text = ''
  while (!text.includes('event: lastEvent')) text += new TextDecoder().decode((await body.read()).value)
  await body.cancel()
  const registered = /event: registered\ndata: (.*)\n/.exec(text)?.[1] ?? ''
  t.equal(JSON.parse(data({ data: registered }).payload).clientId, 'alice', 'the clientId is the sub of the cookie\'s token')

  const without = await fetch(`${url}/subscribe?channels=news`)
  t.equal(without.status, 401, 'no cookie, no stream')
  await without.body?.cancel()
})

t.test('over TLS, and behind a proxy that says so, the cookie is Secure and SameSite=None', async (t) => {
  const certificate = testCertificate(t)
  const app = Fastify({ https: { key: certificate.key, cert: certificate.cert } })
  await app.register(sseHub, { insecure: true, jwtSecret: keys.secret })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const port = (app.server.address() as { port: number }).port
  const setCookie = await new Promise<string[] | undefined>((resolve, reject) => {
    httpsRequest({ host: '127.0.0.1', port, path: '/session', method: 'POST', ca: certificate.cert, servername: 'localhost', headers: bearer(reader()) }, (res) => {
      res.resume()
      resolve(res.headers['set-cookie'])
    }).on('error', reject).end()
  })
  t.same(cookieOf(setCookie?.[0]).slice(-2), ['Secure', 'SameSite=None'])

  const proxied = Fastify({ trustProxy: '127.0.0.1' })
  await proxied.register(sseHub, { insecure: true, jwtSecret: keys.secret })
  t.teardown(() => proxied.close())
  const res = await proxied.inject({ method: 'POST', url: '/session', headers: { ...bearer(reader()), 'x-forwarded-proto': 'https' }, remoteAddress: '127.0.0.1' })
  t.same(cookieOf(res.headers['set-cookie']).slice(-2), ['Secure', 'SameSite=None'], 'X-Forwarded-Proto from a trusted proxy')
})

t.test('the token of POST /session is never logged', async (t) => {
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _encoding, done) { lines.push(String(chunk)); done() } })
  const app = Fastify({ logger: { level: 'trace', stream } })
  await app.register(sseHub, { insecure: true, jwtSecret: keys.secret })
  t.teardown(() => app.close())
  const token = reader()
  t.equal((await app.inject({ method: 'POST', url: '/session', headers: bearer(token) })).statusCode, 204)
  t.equal((await app.inject({ method: 'POST', url: '/session', headers: bearer(`${token}x`) })).statusCode, 401)
  t.ok(lines.length > 0, 'the requests were logged')
  const signature = token.split('.')[2]
  t.notOk(lines.some((line) => line.includes(signature)), 'no line holds the token')
})

t.test('corsOrigins: * in a list of origins stops the start, saying why', async (t) => {
  t.throws(() => resolveConfig({ corsOrigins: 'https://app.example,*' }), { message: /^invalid option corsOrigins: \* cannot stand in a list of origins; give \* alone \(no cookies cross origins/ })
  t.equal(resolveConfig({ corsOrigins: '*' }).corsOrigins, '*')
})
