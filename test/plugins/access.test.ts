import Fastify from 'fastify'
import t from 'tap'
import sseHub from '../../app.js'

t.test('every presence read, and only those, goes through the one access check', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  const routes = new Map<string, string | undefined>()
  app.addHook('onRoute', (route) => { routes.set(`${String(route.method)} ${route.url}`, route.config?.access) })
  await app.register(sseHub, { prefix: '/hub' })
  await app.ready()
  // Every method (HEAD too) and both spellings (with and without a trailing slash) of a path.
  const paths = (access: string | undefined): string[] =>
    [...new Set([...routes].filter(([, flag]) => flag === access).map(([route]) => route.split(' ')[1].replace(/\/$/, '')))].sort()
  t.same(paths('presence'), ['/hub/channels', '/hub/channels/*', '/hub/clients', '/hub/clients/*', '/hub/presence'])
  t.notOk(paths(undefined).some((path) => paths('presence').includes(path)), 'no spelling of a presence read without the flag')
  for (const route of ['GET /hub/subscribe', 'POST /hub/publish', 'GET /hub/lastEvent', 'GET /hub/health']) {
    t.ok(routes.has(route), route)
    t.equal(routes.get(route), undefined, `${route} is not a presence read`)
  }
})
