import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Validator } from '@seriousme/openapi-schema-validator'
import Fastify from 'fastify'
import t, { type Test } from 'tap'
import sseHub, { type SseHubOptions } from '../../app.js'
import { build, type TestContext } from '../helper.js'

const VERSION = (JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version
const JWT_SECRET = 'a-test-secret-of-at-least-32-characters'
/** `POST /session` keeps only a JWT the hub verified, whatever else the configuration opens. */
const SESSION = { 'POST /session': ['jwt'] }

interface Operation {
  operationId?: string
  security?: Array<Record<string, string[]>>
  parameters?: Array<{ in: string, name: string }>
  responses: Record<string, { description: string, content?: Record<string, { schema: any }> }>
}
type Document = {
  openapi: string
  info: { title: string, version: string, description?: string }
  paths: Record<string, Record<string, Operation>>
  components?: { securitySchemes?: Record<string, { type: string, scheme?: string, bearerFormat?: string, in?: string, name?: string }> }
}

/** GETs a URL over a real socket; `text` is the body. */
async function get (url: string): Promise<{ status: number, type: string, text: string }> {
  const res = await fetch(url)
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() }
}

/** The document of the hub at `url` + `prefix`, checked by the OpenAPI validator: the test fails with its errors. */
async function documentOf (t: Test, url: string, prefix = ''): Promise<Document> {
  const res = await get(`${url}${prefix}/docs/json`)
  t.equal(res.status, 200, `${prefix}/docs/json answers without a token`)
  t.match(res.type, /^application\/json/)
  const document = JSON.parse(res.text) as Document
  const { valid, errors } = await new Validator().validate(document)
  t.ok(valid, valid === true ? `valid OpenAPI ${document.openapi}` : `invalid OpenAPI ${document.openapi}: ${JSON.stringify(errors, null, 2)}`)
  // What the schema cannot say: each path template's parameters are declared, the security schemes
  // operations name are defined, and operationIds are unique.
  const operationIds: string[] = []
  for (const [path, item] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((match) => match[1]).sort()
      const declared = (operation.parameters ?? []).filter((parameter) => parameter.in === 'path').map((parameter) => parameter.name).sort()
      t.same(declared, templated, `${method} ${path}: its path parameters are declared`)
      if (operation.operationId !== undefined) operationIds.push(operation.operationId)
      for (const scheme of (operation.security ?? []).flatMap((requirement) => Object.keys(requirement))) {
        t.ok(document.components?.securitySchemes?.[scheme], `${method} ${path}: its security scheme ${scheme} is defined`)
      }
    }
  }
  t.equal(new Set(operationIds).size, operationIds.length, 'operationIds are unique')
  return document
}

/** The hub on a real port, and its routes as the app registered them (`GET /x`; HEAD, OPTIONS and the docs' own left out). */
async function hubWithRoutes (t: TestContext, options: SseHubOptions): Promise<{ url: string, routes: Set<string> }> {
  const app = Fastify()
  const routes = new Set<string>()
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      // The dashboard page and its files are hidden: they are no API.
      if (method === 'HEAD' || method === 'OPTIONS' || /\/docs(\/|$)/.test(route.url) || route.schema?.hide === true) continue
      routes.add(`${method} ${route.url.replace(/(.)\/$/, '$1').replace(/\*$/, '{}')}`)
    }
  })
  await app.register(sseHub, { insecure: true, ...options })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return { url: `http://127.0.0.1:${address.port}`, routes }
}

/** `GET /x` for every operation of the document, with path parameters as `{}`. */
function operations (document: Document): string[] {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    Object.keys(item).map((method) => `${method.toUpperCase()} ${path.replace(/\{[^}]+\}$/, '{}')}`)).sort()
}

const CORE_OPERATIONS = [
  'GET /channels', 'GET /channels/{}', 'GET /clients', 'GET /clients/{}', 'GET /health',
  'GET /lastEvent', 'GET /presence', 'GET /subscribe', 'POST /publish'
]

/** Every operation that requires a token, by `METHOD path`, with the schemes it accepts. */
function secured (document: Document): Record<string, string[]> {
  const result: Record<string, string[]> = {}
  for (const [path, item] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      if (operation.security !== undefined && operation.security.length > 0) {
        result[`${method.toUpperCase()} ${path}`] = operation.security.flatMap((requirement) => Object.keys(requirement)).sort()
      }
    }
  }
  return result
}

t.test('the document lists every route of the hub once, with its schemas, and validates', async (t) => {
  const { url, routes } = await hubWithRoutes(t, { insecure: false })
  const document = await documentOf(t, url)
  t.equal(document.info.title, 'fastify-sse-hub')
  t.equal(document.info.version, VERSION, 'the package\'s version')
  t.ok(document.info.description, 'a description')
  t.same(operations(document), [...routes].sort(), 'every route of the hub, each path once, and nothing else (no HEAD, OPTIONS, docs or dashboard route)')
  t.notOk(operations(document).includes('GET /'), 'not the dashboard page')
  for (const operation of CORE_OPERATIONS) t.ok(operations(document).includes(operation), `${operation} is documented`)
  t.notOk(Object.keys(document.paths).some((path) => path.endsWith('/') || path.includes('*')), 'one spelling of each path, wildcards named')

  const subscribe = document.paths['/subscribe'].get
  t.same((subscribe.parameters ?? []).map((parameter) => `${parameter.in} ${parameter.name}`).sort(),
    ['header last-event-id', 'query channels', 'query clientId', 'query lastEventId', 'query presence'], 'the query and header schemas of /subscribe')
  const publish = document.paths['/publish'].post as Operation & { requestBody: { content: Record<string, { schema: any }> } }
  t.same(Object.keys(publish.requestBody.content['application/json'].schema.properties), ['events'], 'the body schema of /publish')
  t.same(Object.keys(publish.responses['200'].content!['application/json'].schema.properties), ['published', 'ids'])
  t.same((publish.parameters ?? []).map((parameter) => `${parameter.in} ${parameter.name}`), ['header idempotency-key'], 'the Idempotency-Key of /publish')
  t.match(publish.responses['200'], { headers: { 'Idempotent-Replayed': { schema: { type: 'string', enum: ['true'] } } } }, 'and the header of a replay')
  t.match(document.paths['/clients/{clientId}'].get.parameters, [{ in: 'path', name: 'clientId', required: true, schema: { type: 'string' } }], 'the wildcard named after its schema\'s title')
  t.same(Object.keys(document.paths['/health'].get.responses).sort(), ['200', '503'])
})

t.test('the SSE routes are documented as text/event-stream, with their event types', async (t) => {
  const hub = await build(t)
  const document = await documentOf(t, hub.url)
  const stream = (path: string): { description: string, events: string[] } => {
    const ok = document.paths[path].get.responses['200']
    t.same(Object.keys(ok.content ?? {}), ['text/event-stream'], `${path}: a text/event-stream 200`)
    // One kind of frame is the schema itself, several are its anyOf.
    const schema = ok.content!['text/event-stream'].schema
    const frames = (schema.anyOf ?? [schema]) as Array<{ properties: { event: { enum?: string[] } } }>
    return { description: ok.description, events: frames.map((frame) => frame.properties.event.enum?.[0] ?? '<type>') }
  }
  const subscribe = stream('/subscribe')
  t.same(subscribe.events, ['registered', 'lastEvent', '<type>', 'online-presence'])
  for (const name of ['registered', 'lastEvent', 'message', 'online-presence', 'retry:', 'X-SSE-Hub-Refused']) {
    t.match(subscribe.description, name, `/subscribe describes ${name}`)
  }
  t.match(document.paths['/subscribe'].get.responses['200'], { headers: { 'X-SSE-Hub-Refused': { schema: { type: 'string' } } } }, 'the refusal header')
  const presence = stream('/presence')
  t.same(presence.events, ['snapshot', 'join', 'leave'])
  for (const name of ['snapshot', 'join', 'leave']) t.match(presence.description, name)
  const firehose = stream('/firehose')
  t.same(firehose.events, ['<type>'])
  t.match(firehose.description, 'retry:')
  t.same(Object.keys(document.paths['/metrics'].get.responses['200'].content ?? {}), ['text/plain'], '/metrics: text')
  for (const [path, item] of Object.entries(document.paths)) {
    if (['/subscribe', '/presence', '/firehose', '/metrics'].includes(path)) continue
    for (const [method, operation] of Object.entries(item)) {
      // `/session` answers 204, without a body.
      const ok = operation.responses['200'] ?? operation.responses['204']
      t.same(Object.keys(ok.content ?? {}), path === '/session' ? [] : ['application/json'], `${method} ${path}: a JSON 200`)
    }
  }
  // So is /metrics's: its text goes out as it is.
  const metrics = await hub.app.inject('/metrics')
  t.match(metrics.headers['content-type'], /^text\/plain/)
  t.match(metrics.body, /^# HELP /)

  // The 200 schema is documentation only: the stream is written as before.
  const client = await hub.subscribe('/subscribe?channels=docs&clientId=reader')
  await client.waitForCount(2)
  t.same(client.messages.map((message) => message.event), ['registered', 'lastEvent'])
  t.equal(client.headers['content-type'], 'text/event-stream')
})

t.test('every error response has the error schema and says when it comes', async (t) => {
  const { url } = await hubWithRoutes(t, { insecure: false, publishRateLimit: 5 })
  const document = await documentOf(t, url)
  let count = 0
  for (const [path, item] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      for (const [status, response] of Object.entries(operation.responses)) {
        if (!/^[45]/.test(status) || (path === '/health' && status === '503')) continue
        count++
        const schema = response.content?.['application/json']?.schema
        t.same(schema?.required, ['statusCode', 'code', 'error', 'message'], `${method} ${path} ${status}: the error body`)
        t.same(Object.keys(schema?.properties ?? {}), ['statusCode', 'code', 'error', 'message'])
        t.not(response.description, 'Default Response', `${method} ${path} ${status}: described`)
      }
    }
  }
  t.ok(count >= 30, `${count} error responses checked`)
  t.same(Object.keys(document.paths['/publish'].post.responses).sort(), ['200', '400', '401', '403', '413', '415', '422', '429', '503'])
  t.same(Object.keys(document.paths['/clients/{clientId}'].get.responses).sort(), ['200', '400', '401', '403', '404', '503'])
  const health = document.paths['/health'].get.responses['503'].content!['application/json'].schema
  t.same(health.properties.status.anyOf.map((member: { enum: string[] }) => member.enum[0]), ['ok', 'draining', 'broker-down'], '/health 503: the health body')
})

t.test('security follows each route\'s access flag and the configuration', async (t) => {
  const presenceRoutes = ['GET /channels', 'GET /channels/{name}', 'GET /clients', 'GET /clients/{clientId}', 'GET /firehose', 'GET /presence', 'GET /stats']
  const everyone = (schemes: string[]): Record<string, string[]> => Object.fromEntries(presenceRoutes.map((route) => [route, schemes]))

  t.test('by default: publishing and presence reads need the publish token, subscribing is open', async (t) => {
    const hub = await build(t, { insecure: false })
    const document = await documentOf(t, hub.url)
    t.same(secured(document), { 'POST /publish': ['publishToken'], ...SESSION, ...everyone(['publishToken', 'tokenCookie', 'tokenQuery']) })
    t.match(document.components?.securitySchemes, {
      publishToken: { type: 'http', scheme: 'bearer' },
      tokenQuery: { type: 'apiKey', in: 'query', name: 'token' },
      tokenCookie: { type: 'apiKey', in: 'cookie', name: 'sse_hub_token' }
    })
    for (const path of ['/subscribe', '/lastEvent']) {
      const { responses, parameters } = document.paths[path].get
      t.notOk('401' in responses || '403' in responses, `${path}: open, so no 401 or 403`)
      t.notOk(parameters?.some((parameter) => parameter.name === 'token'), `${path}: no token parameter`)
    }
    t.ok('401' in document.paths['/publish'].post.responses && '403' in document.paths['/clients'].get.responses)
    // What the document says is what the hub does.
    t.equal((await hub.app.inject({ method: 'POST', url: '/publish', payload: { events: [] } })).statusCode, 401)
    t.equal((await hub.app.inject('/clients')).statusCode, 401)
    t.equal((await hub.app.inject('/lastEvent?channel=a')).statusCode, 200)
  })

  t.test('with subscribeAuth, subscribing and /lastEvent need a JWT; a JWT key alone generates no publish token', async (t) => {
    const hub = await build(t, { insecure: false, subscribeAuth: true, jwtSecret: JWT_SECRET })
    const document = await documentOf(t, hub.url)
    const subscriber = ['jwt', 'tokenCookie', 'tokenQuery']
    t.same(secured(document), {
      'POST /publish': ['jwt'],
      'GET /subscribe': subscriber,
      'GET /lastEvent': subscriber,
      ...SESSION,
      ...everyone(['jwt', 'tokenCookie', 'tokenQuery'])
    })
    t.match(document.components?.securitySchemes?.jwt, { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
    t.notOk(document.components?.securitySchemes?.publishToken, 'no publish token scheme')
    t.ok('401' in document.paths['/subscribe'].get.responses && '403' in document.paths['/subscribe'].get.responses)
    t.equal((await hub.app.inject('/lastEvent?channel=a')).statusCode, 401)
  })

  t.test('with a publish token and a JWT key, both are accepted', async (t) => {
    const hub = await build(t, { insecure: false, publishToken: 'a-publish-token-of-16+', jwtSecret: JWT_SECRET })
    const document = await documentOf(t, hub.url)
    t.same(secured(document)['POST /publish'], ['jwt', 'publishToken'])
    t.notOk(secured(document)['GET /subscribe'], 'subscribing stays open')
  })

  t.test('metricsToken: /metrics needs it, and only it', async (t) => {
    const hub = await build(t, { insecure: true, metricsToken: 'a-metrics-token-of-16+' })
    const document = await documentOf(t, hub.url)
    t.same(secured(document), { 'GET /metrics': ['metricsToken'], ...SESSION })
    t.match(document.components?.securitySchemes, { metricsToken: { type: 'http', scheme: 'bearer' } })
    t.same(Object.keys(document.paths['/metrics'].get.responses).sort(), ['200', '401'])
    t.equal((await hub.app.inject('/metrics')).statusCode, 401)
  })

  t.test('insecure: nothing needs a token', async (t) => {
    const hub = await build(t, { insecure: true })
    const document = await documentOf(t, hub.url)
    t.same(secured(document), SESSION, 'but POST /session, which keeps only a verified JWT')
    t.same(Object.keys(document.components?.securitySchemes ?? {}), ['jwt'])
    for (const [path, item] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        if (path === '/session' && method === 'post') t.ok('401' in operation.responses, 'POST /session: 401')
        else t.notOk('401' in operation.responses || '403' in operation.responses, `${method} ${path}: open`)
      }
    }
  })
})

t.test('the docs follow the prefix, are open, and the page loads its scripts and styles from the hub', async (t) => {
  const hub = await build(t, { prefix: '/events', insecure: false })
  const document = await documentOf(t, hub.url, '/events')
  t.ok(Object.keys(document.paths).every((path) => path.startsWith('/events/')), 'every path carries the prefix')
  for (const operation of CORE_OPERATIONS) {
    t.ok(operations(document).includes(operation.replace(' /', ' /events/')), `${operation} under /events`)
  }

  for (const page of ['/events/docs', '/events/docs/']) {
    const res = await get(`${hub.url}${page}`)
    t.equal(res.status, 200, `${page} answers without a token`)
    t.match(res.type, /^text\/html/)
    const assets = [...res.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1])
    t.ok(assets.some((asset) => asset.endsWith('swagger-ui-bundle.js')) && assets.some((asset) => asset.endsWith('swagger-ui.css')), `${page} links the UI's script and styles`)
    for (const asset of assets) {
      t.notMatch(asset, /^(https?:)?\/\//, `${asset}: from the hub itself, no other host`)
      const resolved = new URL(asset, `${hub.url}${page}`)
      const answer = await get(resolved.href)
      t.equal(answer.status, 200, `${page}: ${asset} → ${resolved.pathname} is served`)
    }
  }
  const initializer = await get(`${hub.url}/events/docs/static/swagger-initializer.js`)
  t.match(initializer.text, "resolveUrl('./json')", 'the page reads the document beside it')
  t.equal((await get(`${hub.url}/docs/json`)).status, 404, 'nothing outside the prefix')
})

t.test('the docs are served with a Content-Security-Policy, never framed or sniffed; the other routes keep their own headers', async (t) => {
  const hub = await build(t, { prefix: '/events' })
  const page = await fetch(`${hub.url}/events/docs`)
  const links = [...(await page.text()).matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => new URL(match[1], `${hub.url}/events/docs`).pathname)
  t.ok(links.length >= 3, 'the page links its files')
  for (const path of ['/events/docs', '/events/docs/', ...links, '/events/docs/static/swagger-initializer.js', '/events/docs/json']) {
    const res = await fetch(`${hub.url}${path}`)
    await res.arrayBuffer()
    t.equal(res.status, 200, path)
    const policy = res.headers.get('content-security-policy') ?? ''
    const directives = new Map(policy.split(';').map((directive) => directive.trim().split(/\s+/)).map(([name, ...values]) => [name, values.join(' ')]))
    t.equal(directives.get('frame-ancestors'), "'none'", `${path}: never framed`)
    t.equal(directives.get('default-src'), "'none'", `${path}: nothing that is not listed`)
    t.equal(directives.get('script-src'), "'self'", `${path}: scripts from the hub only, none inline`)
    t.notMatch(policy, /unsafe/, `${path}: no unsafe- source`)
    t.equal(res.headers.get('x-frame-options'), 'DENY', path)
    t.equal(res.headers.get('x-content-type-options'), 'nosniff', path)
  }
  const health = await fetch(`${hub.url}/events/health`)
  t.equal(health.headers.get('content-security-policy'), null, 'the hub\'s other routes are not the docs\' scope')
  t.equal(health.headers.get('x-frame-options'), null)
})

t.test('two hubs under two prefixes in one app have two documents', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  // Each hub in a scope of its own, as two `app.hub` cannot share one (see test/embedding.test.ts).
  await app.register(async (scope) => { await scope.register(sseHub, { prefix: '/a', insecure: true }) })
  await app.register(async (scope) => { await scope.register(sseHub, { prefix: '/b', insecure: false }) })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  const url = `http://127.0.0.1:${address.port}`
  const a = await documentOf(t, url, '/a')
  const b = await documentOf(t, url, '/b')
  t.ok(Object.keys(a.paths).every((path) => path.startsWith('/a/')), '/a/docs/json: the paths of /a only')
  t.ok(Object.keys(b.paths).every((path) => path.startsWith('/b/')), '/b/docs/json: the paths of /b only')
  t.equal(Object.keys(a.paths).length, Object.keys(b.paths).length)
  t.same(secured(a), { 'POST /a/session': ['jwt'] }, '/a is insecure')
  t.ok(secured(b)['POST /b/publish'], '/b needs a token to publish')
  t.equal((await get(`${url}/b/docs`)).status, 200)
})

t.test('an app with its own @fastify/swagger keeps it, and the hub has its own document', async (t) => {
  const { default: swagger } = await import('@fastify/swagger')
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(swagger, { openapi: { info: { title: 'the app', version: '1.0.0' } } })
  app.get('/orders', async () => [])
  await app.register(sseHub, { prefix: '/events', insecure: true })
  await app.ready()
  t.equal((app.swagger() as Document).info.title, 'the app', 'the app\'s document is the app\'s')
  const hub = (await app.inject('/events/docs/json')).json() as Document
  t.equal(hub.info.title, 'fastify-sse-hub')
  t.ok(Object.keys(hub.paths).every((path) => path.startsWith('/events/')), 'the hub\'s document has the hub\'s routes only')
})
