import { connect } from 'node:net'
import t from 'tap'
import { startHub, waitUntil } from './helper.js'

t.test('a cut /firehose reader is logged as one, not as a /presence watcher or a client', async (t) => {
  const { port, url, log } = await startHub(t, ['--max-buffered-bytes', '65536', '--slow-client-timeout', '300'])
  const stats = async (): Promise<{ connections: number, slowDisconnects: number }> => await (await fetch(`${url}/stats`)).json() as { connections: number, slowDisconnects: number }

  // A reader that sends its request and never reads.
  const reader = connect(port, '127.0.0.1')
  t.teardown(() => { reader.destroy() })
  reader.pause()
  reader.on('error', () => {})
  reader.write('GET /firehose HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n')
  await waitUntil(async () => (await stats()).connections === 1, 5000, 'the /firehose stream')

  const payload = 'f'.repeat(60 * 1024)
  for (let i = 0; i < 400 && (await stats()).slowDisconnects === 0; i++) {
    await fetch(`${url}/publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ events: [{ channelName: 'any', type: 'chunk', payload }] })
    })
  }
  await waitUntil(async () => (await stats()).slowDisconnects === 1, 5000, 'the stalled reader to be cut')
  await waitUntil(() => /cut .*slow/.test(log()), 2000, 'the log line')
  const lines = log().split('\n').filter((line) => /"msg":"cut /.test(line))
  t.equal(lines.length, 1)
  const entry = JSON.parse(lines[0]) as { level: number, msg: string }
  t.equal(entry.level, 30, 'info')
  t.match(entry.msg, /^cut a slow \/firehose reader: \d+ bytes unsent/)
  t.notMatch(entry.msg, /presence/)
})
