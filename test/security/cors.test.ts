import t from 'tap'
import { build } from '../helper.js'

t.test('a list of origins: only those get CORS headers, with credentials, on JSON and on streams', async (t) => {
  const hub = await build(t, { corsOrigins: 'https://app.example, https://admin.example' })
  const allowed = await hub.app.inject({ url: '/health', headers: { origin: 'https://admin.example' } })
  t.equal(allowed.headers['access-control-allow-origin'], 'https://admin.example')
  t.equal(allowed.headers['access-control-allow-credentials'], 'true', 'so that a page there can send its sse_hub_token cookie')
  t.match(allowed.headers.vary, /Origin/, 'caches keep one answer per origin')
  const other = await hub.app.inject({ url: '/health', headers: { origin: 'https://evil.example' } })
  t.equal(other.statusCode, 200, 'the request is served; the browser keeps its answer from the page')
  t.equal(other.headers['access-control-allow-origin'], undefined, 'no allowed origin: the browser hides the answer from that page')

  const preflight = await hub.app.inject({
    method: 'OPTIONS',
    url: '/publish',
    headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' }
  })
  t.equal(preflight.statusCode, 204)
  t.equal(preflight.headers['access-control-allow-origin'], 'https://app.example')
  t.match(preflight.headers['access-control-allow-headers'], /Authorization/)
  t.match(preflight.headers['access-control-allow-headers'], /Idempotency-Key/, 'a page may retry its publishes safely')
  t.match(preflight.headers['access-control-allow-methods'], /POST/)

  const stream = await hub.subscribe('/subscribe?channels=a', { headers: { origin: 'https://app.example' } })
  t.equal(stream.headers['access-control-allow-origin'], 'https://app.example', 'the hijacked stream keeps them')
  t.equal(stream.headers['access-control-allow-credentials'], 'true')
  const foreign = await hub.subscribe('/subscribe?channels=a', { headers: { origin: 'https://evil.example' } })
  t.equal(foreign.headers['access-control-allow-origin'], undefined)
})

t.test('the default * allows every origin, without credentials, and exposes the hub\'s headers', async (t) => {
  const hub = await build(t)
  const res = await hub.app.inject({ url: '/health', headers: { origin: 'https://anywhere.example' } })
  t.equal(res.headers['access-control-allow-origin'], '*')
  t.equal(res.headers['access-control-allow-credentials'], undefined, 'browsers never send cookies to *')
  t.match(res.headers['access-control-expose-headers'], /X-SSE-Hub-Refused, Retry-After, WWW-Authenticate, Idempotent-Replayed/)
})

t.test('a request without Origin gets the same CORS headers, on JSON and on streams', async (t) => {
  const any = await build(t)
  const plain = await any.app.inject({ url: '/health' })
  t.equal(plain.headers['access-control-allow-origin'], '*')
  t.equal(plain.headers['access-control-expose-headers'], 'X-SSE-Hub-Refused, Retry-After, WWW-Authenticate, Idempotent-Replayed')
  t.equal(plain.headers.vary, undefined, 'a fixed * is the same for every origin')
  const anyStream = await any.subscribe('/subscribe?channels=a')
  t.equal(anyStream.headers['access-control-allow-origin'], '*')
  t.equal(anyStream.headers['access-control-expose-headers'], 'X-SSE-Hub-Refused, Retry-After, WWW-Authenticate, Idempotent-Replayed')

  const listed = await build(t, { corsOrigins: 'https://app.example' })
  const none = await listed.app.inject({ url: '/health' })
  t.equal(none.headers['access-control-allow-origin'], undefined)
  t.equal(none.headers['access-control-allow-credentials'], 'true')
  t.equal(none.headers['access-control-expose-headers'], 'X-SSE-Hub-Refused, Retry-After, WWW-Authenticate, Idempotent-Replayed')
  t.equal(none.headers.vary, 'Origin')
  const listedStream = await listed.subscribe('/subscribe?channels=a')
  t.equal(listedStream.headers['access-control-allow-credentials'], 'true')
  t.equal(listedStream.headers.vary, 'Origin')
})
