import { Writable } from 'node:stream'
import Fastify from 'fastify'
import t from 'tap'
import requestLogPlugin from '../../plugins/request-log.js'
import type { TestContext } from '../helper.js'

/** An app whose log lines are kept, with one route in a scope that logs as the hub's routes do. */
async function loggingApp (t: TestContext, level: string): Promise<{ app: ReturnType<typeof Fastify>, lines: () => Array<Record<string, unknown>> }> {
  const kept: string[] = []
  const stream = new Writable({
    write (chunk, _encoding, done) {
      kept.push(...String(chunk).split('\n').filter((line) => line !== ''))
      done()
    }
  })
  const app = Fastify({ logger: { level, stream } })
  t.teardown(() => app.close())
  await app.register(async (scope) => {
    await scope.register(requestLogPlugin)
    scope.get('/work', async (request) => {
      request.log.info('an info line')
      request.log.warn({ step: 1 }, 'a warning')
      request.log.child({ part: 'inner' }).warn('from a child')
      return { level: request.log.level }
    })
  })
  await app.ready()
  return { app, lines: () => kept.map((line) => JSON.parse(line) as Record<string, unknown>) }
}

t.test('a request logs with its id and the hub\'s serializers, only at the levels let through', async (t) => {
  const { app, lines } = await loggingApp(t, 'warn')
  const answer = await app.inject('/work?token=secret-of-the-request')
  t.same(answer.json(), { level: 'warn' })
  const logged = lines()
  t.same(logged.map((line) => line.msg), ['a warning', 'from a child'], 'no info line, no request line at warn')
  const [warning, inner] = logged
  t.equal(typeof warning.reqId, 'string')
  t.equal(warning.step, 1)
  t.equal(inner.reqId, warning.reqId, 'a child keeps the request id')
  t.equal(inner.part, 'inner')

  app.log.level = 'info'
  await app.inject('/work?token=secret-of-the-request')
  const second = lines().slice(logged.length)
  t.same(second.map((line) => line.msg), ['incoming request', 'an info line', 'a warning', 'from a child', 'request completed'])
  t.equal(new Set(second.map((line) => line.reqId)).size, 1, 'every line of the request has its id')
  t.not(second[0].reqId, warning.reqId, 'another request, another id')
  t.match(second[0].req, { url: '/work?token=[redacted]' }, 'the request is logged with the hub\'s serializer')
  t.notMatch(JSON.stringify(lines()), 'secret-of-the-request')
})
