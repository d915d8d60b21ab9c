import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { hubNodeFlags, REPO } from '../bench/servers.js'
import { listeningPort, output, spawnHub } from './helper.js'
import { SseClient } from './sse-client.js'

t.test('a bad option stops the start with a message naming it', async (t) => {
  const cases: Array<[string[], Record<string, string>, RegExp]> = [
    [['--heartbeat-interval', 'abc'], {}, /invalid --heartbeat-interval: Expected integer, got "abc"/],
    [['--max-connections=0'], {}, /invalid --max-connections: Expected integer to be greater or equal to 1, got "0"/],
    [[], { SSE_HUB_MAX_EVENTS: '-5' }, /invalid SSE_HUB_MAX_EVENTS: .*got "-5"/],
    [[], { LOG_LEVEL: 'loud' }, /invalid LOG_LEVEL/],
    [['--no-such-option', '1'], {}, /Unknown option '--no-such-option'/]
  ]
  for (const [args, env, message] of cases) {
    const result = await output(spawnHub(['--port', '0', ...args], env))
    t.equal(result.code, 1, args.join(' ') || JSON.stringify(env))
    t.match(result.stderr, message)
  }
})

t.test('--help lists every option with its environment variable and default', async (t) => {
  const result = await output(spawnHub(['--help']))
  t.equal(result.code, 0)
  for (const line of ['--port', 'PORT', '--heartbeat-interval', 'SSE_HUB_HEARTBEAT_INTERVAL', '(default: 15000)', '--max-buffered-bytes', 'SSE_HUB_MAX_BUFFERED_BYTES']) {
    t.match(result.stdout, line)
  }
})

t.test('a flag wins over the environment', async (t) => {
  const child = spawnHub(['--port', '0', '--host', '127.0.0.1', '--retry', '777'], { SSE_HUB_RETRY: '555' })
  t.teardown(() => { child.kill('SIGKILL') })
  const port = await listeningPort(child)
  const client = await SseClient.open(`http://127.0.0.1:${port}/subscribe?channels=a`)
  await client.waitForCount(1)
  t.equal(client.retry, 777)
  client.close()
  child.kill('SIGTERM')
  await once(child, 'exit')
})

t.test('npm start and the benchmark run Node with the flags of the sse-hub command', async (t) => {
  const flags = hubNodeFlags(join(REPO, 'server.ts'))
  t.same(flags, ['--max-semi-space-size=8'])
  const { scripts } = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
  t.equal(scripts.start, `node ${flags.join(' ')} dist/server.js`)
})

t.test('--version prints the package version', async (t) => {
  const { version } = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }
  for (const flag of ['--version', '-v']) {
    const result = await output(spawnHub([flag]))
    t.equal(result.code, 0)
    t.equal(result.stdout.trim(), version)
  }
})

t.test('a port in use stops the start with one line naming it', async (t) => {
  const first = spawnHub(['--port', '0', '--host', '127.0.0.1', '--insecure'])
  t.teardown(() => { first.kill('SIGKILL') })
  const port = await listeningPort(first)
  const result = await output(spawnHub(['--port', String(port), '--host', '127.0.0.1', '--insecure']))
  t.equal(result.code, 1)
  t.equal(result.stderr.trim(), `sse-hub: port ${port} on 127.0.0.1 is already in use; choose another with --port or PORT`)
  t.notMatch(result.stderr, /\n\s+at /, 'no stack trace')
})

t.test('REDIS_URL that does not answer stops the start with one line naming it, without its password', async (t) => {
  const result = await output(spawnHub(['--port', '0', '--host', '127.0.0.1', '--insecure'], { REDIS_URL: 'redis://user:secret@127.0.0.1:1/0' }))
  t.equal(result.code, 1)
  t.match(result.stderr, /^sse-hub: Redis at redis:\/\/127\.0\.0\.1:1\/0 did not answer within 8 s/)
  t.notMatch(result.stderr, 'secret')
})
