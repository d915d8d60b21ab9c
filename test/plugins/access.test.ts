import Fastify from 'fastify'
import t from 'tap'
import sseHub from '../../app.js'

t.test('every route of the hub goes through the one access check with the right flag', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  const routes = new Map<string, string | undefined>()
  const payloads = new Set<string>()
  app.addHook('onRoute', (route) => {
    routes.set(`${String(route.method)} ${route.url}`, route.config?.access)
    if (route.config?.payloads === 'all') payloads.add(route.url.replace(/\/$/, ''))
  })
  await app.register(sseHub, { prefix: '/hub', insecure: true })
  await app.ready()
  // Every method (HEAD too) and both spellings (with and without a trailing slash) of a path; the
  // CORS preflight (OPTIONS /hub*) answers no request of its own.
  t.same([...routes.keys()].filter((route) => route.startsWith('OPTIONS')), ['OPTIONS /hub*'])
  const paths = (access: string | undefined): string[] =>
    [...new Set([...routes].filter(([route, flag]) => flag === access && !route.startsWith('OPTIONS'))
      .map(([route]) => route.split(' ')[1].replace(/\/$/, '')))].sort()
  t.same(paths('presence'), ['/hub/channels', '/hub/channels/*', '/hub/clients', '/hub/clients/*', '/hub/firehose', '/hub/presence', '/hub/stats'])
  t.same([...payloads], ['/hub/firehose'], 'the one presence read that streams every channel\'s payloads says so')
  t.same(paths('subscribe'), ['/hub/subscribe'])
  t.same(paths('lastEvent'), ['/hub/lastEvent'])
  t.same(paths('publish'), ['/hub/publish'])
  t.same(paths('metrics'), ['/hub/metrics'])
  t.same(paths('session'), ['/hub/session'], 'POST /session')
  // Open on purpose: health, the dashboard page and its files, the browser client's modules, the API
  // documentation (its page and the page's assets, the document as JSON and as YAML), which hold no
  // data; and DELETE /session, which only clears a cookie.
  const docs = ['/hub/docs', '/hub/docs/json', '/hub/docs/static/*', '/hub/docs/static/index.html', '/hub/docs/static/swagger-initializer.js', '/hub/docs/yaml']
  const client = ['/hub/client-share.js', '/hub/client-stream.js', '/hub/client.js']
  t.same(paths(undefined), ['/hub', ...client, '/hub/dashboard/:file', ...docs, '/hub/health', '/hub/session'], 'only health, the dashboard page, the client, the docs and DELETE /session are open')
  for (const flag of ['presence', 'subscribe', 'lastEvent', 'publish', 'metrics']) {
    t.notOk(paths(undefined).some((path) => paths(flag).includes(path)), `no spelling of a ${flag} route without the flag`)
  }
})
