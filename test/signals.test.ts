import { once } from 'node:events'
import Fastify from 'fastify'
import t from 'tap'
import { Reloader } from '../standalone.js'
import { listeningPort, spawnHub, startHub, waitUntil } from './helper.js'
import { SseClient } from './sse-client.js'

const publish = (url: string, payload: string): Promise<Response> => fetch(`${url}/publish`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ events: [{ channelName: 'a', type: 'news', payload }] })
})

t.test('SIGHUP reloads and does not stop the hub: streams stay open, requests are answered; SIGTERM still stops it', async (t) => {
  const { child, url, log } = await startHub(t)
  const client = await SseClient.open(`${url}/subscribe?channels=a`)
  t.teardown(() => { client.close() })
  await client.waitForCount(2)

  child.kill('SIGHUP')
  await waitUntil(() => log().includes('SIGHUP received'), 5000, 'the SIGHUP log line')
  const line = JSON.parse(log().split('\n').find((entry) => entry.includes('SIGHUP received')) ?? '{}') as { level: number, msg: string }
  t.equal(line.level, 30, 'logged at info')
  t.match(line.msg, /^SIGHUP received: nothing to reload/, 'says what it reloaded')

  t.equal((await fetch(`${url}/health`)).status, 200, 'a new request is answered')
  t.equal((await publish(url, 'after SIGHUP')).status, 200)
  await client.waitFor((c) => c.ofType('news').length === 1, 3000, 'the event published after SIGHUP')
  t.notOk(client.ended, 'the open stream stays open')
  t.equal(child.exitCode, null, 'the process runs on')
  t.notMatch(log(), /draining/, 'no stop began')

  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  await client.waitForEnd(5000)
  const [code] = await exited
  t.equal(code, 0, 'SIGTERM drains and exits cleanly')
  t.match(log(), /SIGTERM: draining/)
})

t.test('SIGHUP while the hub starts does not stop it', async (t) => {
  // Without a token configured, the hub logs the one it generates while it starts, before it listens.
  const child = spawnHub(['--port', '0', '--host', '127.0.0.1'])
  t.teardown(() => { child.kill('SIGKILL') })
  const listening = listeningPort(child)
  child.stdout!.on('data', function hangUp (chunk: Buffer) {
    if (!chunk.toString().includes('shown only now')) return
    child.stdout!.off('data', hangUp)
    child.kill('SIGHUP')
  })
  const port = await listening
  t.equal((await fetch(`http://127.0.0.1:${port}/health`)).status, 200, 'it listens and answers')
  t.equal(child.exitCode, null)
})

t.test('a reload reloads each registered part in turn, logs each, and keeps the old one when a part fails', async (t) => {
  const lines: Array<{ level: number, msg: string, err?: { message: string } }> = []
  const app = Fastify({ logger: { level: 'info', stream: { write: (line: string) => { lines.push(JSON.parse(line)) } } } })
  t.teardown(() => app.close())
  const reloader = new Reloader(app.log)
  const order: string[] = []
  let release = (): void => {}
  reloader.onReload({ what: 'the certificate', reload: () => new Promise<void>((resolve) => { order.push('certificate'); release = resolve }) })
  reloader.onReload({ what: 'the key list', reload: () => { order.push('keys'); throw new Error('no such file') } })

  const first = reloader.reload('SIGHUP')
  const second = reloader.reload('SIGHUP')
  await new Promise((resolve) => setImmediate(resolve))
  t.same(order, ['certificate'], 'one part at a time')
  release()
  await first
  t.same(order, ['certificate', 'keys', 'certificate'], 'the second reload begins once the first ended')
  release()
  await second
  t.same(order, ['certificate', 'keys', 'certificate', 'keys'], 'a second signal waits for the reload in progress')
  t.same(lines.slice(0, 2).map((line) => [line.level, line.msg]), [
    [30, 'SIGHUP received: reloaded the certificate'],
    [50, 'SIGHUP received: could not reload the key list; the one in use stays']
  ])
  t.equal(lines[1].err?.message, 'no such file')
})
