import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { connect as tlsConnect } from 'node:tls'
import t from 'tap'
import { h2Session, h2Subscribe } from './h2-client.js'
import { data, freePort, type HubProcess, rawConnection, spawnHub, startHub, type TestContext, waitUntil } from './helper.js'
import { REDIS_URL, redisPrefix } from './redis.js'
import { SseClient } from './sse-client.js'
import { testCertificate } from './tls.js'

// The nginx configuration users copy (deploy/nginx/sse-hub.conf), run in front of two cluster
// nodes with only the node addresses, the listen ports and the certificate paths replaced (and,
// for a paused node, a shorter stream read timeout).

const SHIPPED = join(import.meta.dirname, '..', 'deploy', 'nginx', 'sse-hub.conf')

/** nginx on the PATH, or where Debian installs it (/usr/sbin is not on every user's PATH). */
function nginxBinary (): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin'].filter((dir) => dir !== '')
  return dirs.map((dir) => join(dir, 'nginx')).find((path) => existsSync(path))
}

/**
 * The shipped file with the test's nodes in the upstream, its port in `listen`, and any other
 * `replace`ments; each replaced text must be there, so that a change to the file fails here
 * instead of leaving the test to run something else.
 */
function siteConf (text: string, nodes: string[], port: number, replace: Record<string, string> = {}): string {
  const servers = [...text.matchAll(/^( *)server +\S+:\d+([^;\n]*);$/gm)]
  if (servers.length === 0) throw new Error('sse-hub.conf: no `server <host>:<port>` line in the upstream')
  const [indent, parameters] = [servers[0][1], servers[0][2]]
  let conf = text.replace(servers[0][0], nodes.map((node) => `${indent}server ${node}${parameters};`).join('\n'))
  for (const server of servers.slice(1)) conf = conf.replace(`${server[0]}\n`, '')
  for (const [from, to] of Object.entries({ 'listen 80;': `listen 127.0.0.1:${port};`, ...replace })) {
    if (conf.split(from).length !== 2) throw new Error(`sse-hub.conf: "${from}" is not there exactly once`)
    conf = conf.replace(from, to)
  }
  return conf
}

/**
 * An nginx master of the test's own, not a daemon, serving the shipped file in front of `nodes`;
 * its pid, logs and temp files in a temp directory, stopped at teardown. The main configuration
 * around the file ignores the hub's `X-Accel-Buffering: no`, so that the file's own
 * `proxy_buffering off` is what is tested.
 */
async function startNginx (t: TestContext, nodes: HubProcess[], replace: Record<string, string> = {}): Promise<{ url: string, tlsUrl: string, ca: string, log: () => string }> {
  const nginx = nginxBinary()
  if (nginx === undefined) throw new Error('nginx is not installed: apt-get install nginx (npm test installs it when run as root)')
  const dir = await mkdtemp(join(tmpdir(), 'sse-hub-nginx-'))
  const [port, tlsPort] = [await freePort(), await freePort()]
  const certificate = testCertificate(t)
  const site = siteConf(await readFile(SHIPPED, 'utf8'), nodes.map((node) => `127.0.0.1:${node.port}`), port, {
    'listen 443 ssl http2;': `listen 127.0.0.1:${tlsPort} ssl http2;`,
    '/etc/ssl/sse.example.com.pem': certificate.certPath,
    '/etc/ssl/sse.example.com.key': certificate.keyPath,
    ...replace
  })
  await writeFile(join(dir, 'sse-hub.conf'), site)
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => `  ${kind}_temp_path ${join(dir, kind)};`)
  await writeFile(join(dir, 'nginx.conf'), [
    // Workers run as the master's user (root on the CI machine), so that they can use the temp directory.
    ...(process.getuid?.() === 0 ? ['user root;'] : []),
    'worker_processes 1;',
    `pid ${join(dir, 'nginx.pid')};`,
    'error_log stderr warn;',
    'events { worker_connections 256; }',
    'http {',
    '  access_log off;',
    ...temp,
    '  proxy_ignore_headers X-Accel-Buffering;',
    `  include ${join(dir, 'sse-hub.conf')};`,
    '}',
    ''
  ].join('\n'))
  // -e: the log nginx opens before it reads the file is stderr too, not the system's (which a user may not write).
  const child = spawn(nginx, ['-p', dir, '-e', 'stderr', '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let log = ''
  child.stdout!.on('data', (chunk) => { log += chunk })
  child.stderr!.on('data', (chunk) => { log += chunk })
  t.teardown(async () => {
    // SIGTERM, not SIGKILL: the master then stops its workers.
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit')
      child.kill('SIGTERM')
      await exited
    }
    await rm(dir, { recursive: true, force: true })
  })
  await waitUntil(() => child.exitCode !== null || new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => { socket.destroy(); resolve(true) })
    socket.on('error', () => resolve(false))
  }), 5000, () => `nginx to listen: ${log}`)
  if (child.exitCode !== null) throw new Error(`nginx exited: ${log}`)
  return { url: `http://127.0.0.1:${port}`, tlsUrl: `https://localhost:${tlsPort}`, ca: certificate.cert, log: () => log }
}

/** Two cluster nodes on the test Redis under a prefix of the test's own, started together. */
function twoNodes (t: TestContext, args: string[] = []): Promise<HubProcess[]> {
  const env = { REDIS_URL, SSE_HUB_REDIS_PREFIX: redisPrefix(t) }
  const node = (): Promise<HubProcess> => startHub(t, [], spawnHub(['--port', '0', '--host', '127.0.0.1', '--insecure', ...args], env))
  return Promise.all([node(), node()])
}

/** The node whose log shows the subscribe of `clientId`: where nginx sent that client. */
async function homeOf (nodes: HubProcess[], clientId: string): Promise<HubProcess> {
  const logged = (): HubProcess[] => nodes.filter((node) => node.log().includes(`clientId=${clientId}`))
  await waitUntil(() => logged().length > 0, 2000, `a node to log the subscribe of ${clientId}`)
  if (logged().length !== 1) throw new Error(`${clientId} subscribed on ${logged().length} nodes`)
  return logged()[0]
}

/** POSTs one event of type n; resolves with the status and the ids of a 200, or status 0 when the request failed. */
async function publish (url: string, n: number, channel = 'k'): Promise<{ status: number, ids: string[] }> {
  try {
    const reply = await fetch(`${url}/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ events: [{ channelName: channel, type: 'n', payload: n }] }) })
    return { status: reply.status, ids: reply.status === 200 ? (await reply.json() as { ids: string[] }).ids : [] }
  } catch {
    return { status: 0, ids: [] }
  }
}

t.test('nginx in front of two nodes', async (t) => {
  // Heartbeats every 200 ms (a stream is silent at most 250 ms); small limits for slow readers.
  const nodes = await twoNodes(t, ['--heartbeat-interval', '200', '--max-buffered-bytes', '65536', '--slow-client-timeout', '300'])
  // The shipped file, and a copy that gives up on a silent stream after 1 s instead of 45 s.
  const [lb, impatient] = await Promise.all([startNginx(t, nodes), startNginx(t, nodes, { 'proxy_read_timeout 45s;': 'proxy_read_timeout 1s;' })])
  const clientId = `nginx-${randomBytes(4).toString('hex')}`
  const subscribe = `${lb.url}/subscribe?channels=k&clientId=${clientId}`
  const first = await SseClient.open(subscribe)
  t.teardown(() => { first.close() })
  await first.waitForCount(2)
  const home = await homeOf(nodes, clientId)
  const other = nodes.find((node) => node !== home)!
  const acknowledged: string[] = []

  t.test('an event reaches the subscriber as soon as it is published', async (t) => {
    t.equal(first.status, 200)
    t.equal(first.headers['content-type'], 'text/event-stream')
    const started = Date.now()
    acknowledged.push(...(await publish(lb.url, 0)).ids)
    t.equal(acknowledged.length, 1, 'a publish through nginx is acknowledged')
    // One small event, far below any buffer's size: nothing on the way (buffering, compression) may hold it back.
    await first.waitFor((client) => client.ofType('n').length === 1, 3000, 'the first event')
    const took = Date.now() - started
    t.ok(took < 1000, `published and received through nginx in ${took} ms`)
  })

  t.test('the dashboard\'s event log, /firehose, streams through nginx: every node\'s events, at once', async (t) => {
    const firehose = await SseClient.open(`${lb.url}/firehose`)
    t.teardown(() => { firehose.close() })
    t.equal(firehose.status, 200)
    await waitUntil(() => firehose.retry !== undefined, 3000, 'the firehose\'s retry line')
    const ids = [...(await publish(nodes[0].url, 1, 'fh')).ids, ...(await publish(nodes[1].url, 2, 'fh')).ids]
    await firehose.waitFor((client) => client.ofType('n').length === 2, 3000, 'both events')
    t.same(firehose.ofType('n').map((message) => message.id), ids, 'published through either node, in order')
  })

  t.test('over TLS: a stream on HTTP/2 and one on HTTP/1.1, both unbuffered', async (t) => {
    const session = await h2Session(t, lb.tlsUrl, lb.ca)
    t.equal(session.alpnProtocol, 'h2', 'nginx speaks HTTP/2')
    const streams = await Promise.all([h2Subscribe(session, '/subscribe?channels=tls'), h2Subscribe(session, '/subscribe?channels=tls')])
    await Promise.all(streams.map((client) => client.waitForCount(2)))
    t.equal(streams[0].headers['content-type'], 'text/event-stream')
    const h1 = tlsConnect({ port: Number(new URL(lb.tlsUrl).port), host: '127.0.0.1', servername: 'localhost', ca: lb.ca, ALPNProtocols: ['http/1.1'] })
    t.teardown(() => { h1.destroy() })
    let received = ''
    h1.setEncoding('utf8')
    h1.on('data', (chunk: string) => { received += chunk })
    await once(h1, 'secureConnect')
    t.equal(h1.alpnProtocol, 'http/1.1')
    h1.write('GET /subscribe?channels=tls HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n')
    await waitUntil(() => received.includes('event: lastEvent'), 3000, 'the opening frames over HTTP/1.1 and TLS')
    const { ids } = await publish(lb.url, 7, 'tls')
    await Promise.all(streams.map((client) => client.waitFor((c) => c.ofType('n').length === 1, 3000, 'the event over HTTP/2')))
    t.ok(streams.every((client) => client.ofType('n')[0].id === ids[0]), 'both HTTP/2 streams got it')
    await waitUntil(() => received.includes(`id: ${ids[0]}`), 3000, 'the event over HTTP/1.1')
    t.pass('the HTTP/1.1 stream got it')
  })

  t.test('a batch of bodyLimit + 1 bytes passes nginx and is refused by the node, in the hub\'s format', async (t) => {
    const body = JSON.stringify({ events: [{ channelName: 'k', type: 'n', payload: '' }] })
    const large = await fetch(`${lb.url}/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body.replace('""', `"${'x'.repeat(102401 - body.length)}"`) })
    t.equal(large.status, 413)
    t.match(await large.json(), { statusCode: 413, code: 'FST_ERR_CTP_BODY_TOO_LARGE' })
  })

  t.test('a subscriber that stops reading is cut by its node: nginx takes no more from the node than the client takes', async (t) => {
    const stalledId = `stalled-${randomBytes(4).toString('hex')}`
    const stalled = rawConnection(t, Number(new URL(lb.url).port), `GET /subscribe?channels=big&clientId=${stalledId} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n`)
    await waitUntil(() => stalled.received().includes('event: lastEvent'), 3000, 'the opening frames')
    stalled.socket.pause()
    const node = await homeOf(nodes, stalledId)
    // 90 KB a batch: with nginx buffering the stream, over 100 MB went by in 8 s without a cut.
    const body = JSON.stringify({ events: Array.from({ length: 90 }, () => ({ channelName: 'big', type: 'b', payload: 'x'.repeat(1000) })) })
    const started = Date.now()
    while (!node.log().includes(`cut slow client ${stalledId}`) && Date.now() - started < 8000) {
      const reply = await fetch(`${lb.url}/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
      if (reply.status !== 200) throw new Error(`publish: ${reply.status}`)
    }
    t.match(node.log(), `cut slow client ${stalledId}`, `cut after ${Date.now() - started} ms`)
  })

  t.test('a paused node: nginx ends its streams after proxy_read_timeout and they resume on the other node; heartbeats keep the others open', async (t) => {
    const ids = [`paused-${randomBytes(4).toString('hex')}`, `kept-${randomBytes(4).toString('hex')}`]
    const [onPaused, onLive] = await Promise.all(ids.map(async (clientId) => {
      const client = await SseClient.open(`${impatient.url}/subscribe?channels=p&clientId=${clientId}`)
      t.teardown(() => { client.close() })
      await client.waitForCount(2)
      return client
    }))
    const [paused, live] = await Promise.all(ids.map((clientId) => homeOf(nodes, clientId)))
    t.not(paused, live, 'least_conn put the two streams on the two nodes')

    paused.child.kill('SIGSTOP')
    const stopped = Date.now()
    const missed: string[] = []
    for (let n = 0; n < 3; n++) missed.push(...(await publish(live.url, n, 'p')).ids)
    await onPaused.waitForEnd(3000)
    t.match(impatient.log(), 'upstream timed out', `nginx ended the paused node's stream after ${Date.now() - stopped} ms, on its read timeout`)
    t.notOk(onLive.ended, 'the stream on the live node, silent but for heartbeats, stays open')
    t.same(onLive.ofType('n').map((message) => message.id), missed)

    // nginx may try the paused node first (it has the fewest connections now): it answers
    // nothing, and after the read timeout nginx tries the other.
    const again = await SseClient.open(`${impatient.url}/subscribe?channels=p&clientId=${ids[0]}`, { headers: { 'last-event-id': onPaused.lastEventId! }, timeout: 5000 })
    t.teardown(() => { again.close() })
    await again.waitForCount(4)
    t.equal(JSON.parse(data(again.messages[0]).payload).resumed, true, 'resumed: true')
    t.same(again.ofType('n').map((message) => message.id), missed, 'every event published while it was away')
    t.notOk(onLive.ended)

    paused.child.kill('SIGCONT')
    await waitUntil(async () => (await fetch(`${paused.url}/health`)).status === 200, 5000, 'the paused node to be healthy again')
  })

  t.test('the node of a subscriber killed with SIGKILL: the client resumes through nginx on the other node with every acknowledged event once, in order', async (t) => {
    // Publishes through nginx, one at a time, the subscriber's node killed a third of the way.
    // The client comes back through nginx with its Last-Event-ID as soon as its stream ends,
    // while the publishes go on.
    let resumed: Promise<SseClient> | undefined
    let seen: string[] = []
    for (let n = 1; n < 60; n++) {
      if (n === 20) {
        await first.waitFor((client) => client.ofType('n').length === acknowledged.length, 5000, 'the events so far')
        home.child.kill('SIGKILL')
        resumed = first.waitForEnd(5000).then(() => {
          seen = first.ofType('n').map((message) => message.id!)
          return SseClient.open(subscribe, { headers: { 'last-event-id': first.lastEventId! } })
        })
      }
      acknowledged.push(...(await publish(lb.url, n)).ids)
    }
    const again = await resumed!
    t.teardown(() => { again.close() })
    await again.waitFor((client) => seen.length + client.ofType('n').length >= acknowledged.length, 5000, 'every acknowledged event')
    await new Promise((resolve) => setTimeout(resolve, 200))
    t.equal(again.status, 200)
    t.equal(JSON.parse(data(again.messages[0]).payload).resumed, true, 'resumed: true')
    t.ok(acknowledged.length >= 55, `${acknowledged.length} of 60 publishes acknowledged`)
    t.same([...seen, ...again.ofType('n').map((message) => message.id)], acknowledged, 'every acknowledged event, once, in the order acknowledged')
    t.equal(other.log().split(`clientId=${clientId}`).length - 1, 1, 'the other node took the reconnect')
  })

  t.test('no node left: a subscribe gets what a refusal gets, 200 and retry:, so EventSource keeps trying', async (t) => {
    other.child.kill('SIGKILL')
    const refused = await SseClient.open(subscribe)
    await refused.waitForEnd()
    t.equal(refused.status, 200)
    t.equal(refused.headers['content-type'], 'text/event-stream')
    t.equal(refused.retry, 5000)
    t.same(refused.messages, [])
  })
})
