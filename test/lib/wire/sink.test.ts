import { createServer } from 'node:http'
import { connect, type Socket } from 'node:net'
import t from 'tap'
import { openSink } from '../../../lib/wire/sink.js'
import { chunk } from '../../../lib/wire/sse.js'
import { build, type TestContext, waitUntil } from '../../helper.js'

/** A subscriber on a raw socket, to see the bytes and the connection itself. */
async function rawSubscribe (t: TestContext, port: number, channel: string): Promise<{ socket: Socket, text: () => string, closed: () => boolean }> {
  const socket = connect(port, '127.0.0.1')
  t.teardown(() => { socket.destroy() })
  let received = ''
  let closed = false
  socket.setEncoding('utf8')
  socket.on('data', (text: string) => { received += text })
  socket.on('close', () => { closed = true })
  socket.write(`GET /subscribe?channels=${channel} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n`)
  await waitUntil(() => received.includes('event: lastEvent'), 5000, 'the opening frames')
  return { socket, text: () => received, closed: () => closed }
}

function portOf (address: unknown): number {
  return (address as { port: number }).port
}

t.test('a stream the hub ends gets the last chunk, and its connection is closed', async (t) => {
  const hub = await build(t)
  const client = await rawSubscribe(t, portOf(hub.app.server.address()), 'a')
  // The HTTP server keeps running: only the hub ends its streams.
  await hub.app.hub.close()
  // Closed, not kept alive for another request: the socket was taken over from Node's HTTP server
  // (lib/wire/sink.ts). Should a Node release change what that relies on, it falls back and this fails.
  await waitUntil(client.closed, 5000, 'the connection to close')
  t.match(client.text(), /^HTTP\/1\.1 200 OK\r\n[^]*\r\ntransfer-encoding: chunked\r\n[^]*\n\n\r\n0\r\n\r\n$/i, 'a complete chunked body')
  t.equal(hub.app.hub.connectionCount, 0)
})

t.test('a client that half-closes its connection is let go at once', async (t) => {
  const hub = await build(t)
  const client = await rawSubscribe(t, portOf(hub.app.server.address()), 'a')
  t.equal(hub.app.hub.connectionCount, 1)
  client.socket.end()
  await waitUntil(() => hub.app.hub.connectionCount === 0, 5000, 'the hub to drop the stream')
  await waitUntil(client.closed, 5000, 'the connection to close')
  t.pass('closed')
})

t.test('bytes a client sends after its subscribe are not read as a request: the stream goes on', async (t) => {
  const hub = await build(t)
  const client = await rawSubscribe(t, portOf(hub.app.server.address()), 'a')
  client.socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n')
  await hub.publish({ events: [{ channelName: 'a', type: 'news', payload: 1 }] })
  await waitUntil(() => client.text().includes('event: news'), 5000, 'the event')
  t.equal(client.text().match(/HTTP\/1\.1/g)?.length, 1, 'one response head only')
  t.equal(hub.app.hub.connectionCount, 1)
})

t.test('when Node is not as the take-over expects, the stream still works and a warning says why, once', async (t) => {
  const warnings: string[] = []
  const server = createServer((req, res) => {
    // A second listener of the name the take-over looks for: it can no longer tell which is Node's.
    const named = function socketOnData (): void {}
    req.socket.on('data', named.bind(undefined))
    const sink = openSink(res, { 'content-type': 'text/event-stream' }, { longLived: true, warn: (message) => warnings.push(message) })
    sink.write(chunk('data: hello\n\n'))
    sink.end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.close() })
  for (let i = 0; i < 2; i++) {
    const text = await (await fetch(`http://127.0.0.1:${portOf(server.address())}/`)).text()
    t.equal(text, 'data: hello\n\n')
  }
  t.equal(warnings.length, 1, 'one warning per process')
  t.match(warnings[0], /^streams stay with Node's HTTP server, which holds more memory per idle stream: this Node \(v\d+[^)]*\) is not as the socket take-over expects \(the socket has no single 'data' listener named 'bound socketOnData'\)$/)
})

t.test("the take-over removes only the server's listeners: a socket listener of the app's own stays", async (t) => {
  const events = ['end', 'close', 'drain']
  const left: Record<string, string[]> = {}
  const server = createServer(async (req, res) => {
    const socket = req.socket
    // Beside each of the server's: the event then has a list of listeners, searched by name.
    for (const event of events) socket.on(event, function appListener () {})
    // As the hub's streams do (plugins/stream.ts): once Node's parser has returned from this request.
    await Promise.resolve()
    const sink = openSink(res, { 'content-type': 'text/event-stream' }, { longLived: true })
    for (const event of events) left[event] = socket.listeners(event).map((listener) => listener.name)
    t.equal((socket as typeof socket & { parser?: object | null }).parser, null, 'the socket was taken over: its parser is freed')
    sink.write(chunk('data: hello\n\n'))
    sink.end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.close() })
  const text = await (await fetch(`http://127.0.0.1:${portOf(server.address())}/`)).text()
  t.equal(text, 'data: hello\n\n')
  for (const event of events) {
    t.ok(left[event].includes('appListener'), `the app's '${event}' listener is left`)
    t.notOk(left[event].some((name) => name.startsWith('bound socketOn')), `the server's '${event}' listener is gone`)
  }
})

t.test('a stream opens with one socket write: its head, its opening text and the frames that follow', async (t) => {
  const writes: string[][] = []
  const server = createServer(async (req, res) => {
    const socket = req.socket as Socket & { _write: (...args: unknown[]) => void, _writev: (...args: unknown[]) => void }
    const [write, writev] = [socket._write, socket._writev]
    socket._write = function (chunk, ...rest) { writes.push([String(chunk)]); write.call(this, chunk, ...rest) }
    socket._writev = function (chunks, ...rest) { writes.push((chunks as Array<{ chunk: unknown }>).map((item) => String(item.chunk))); writev.call(this, chunks, ...rest) }
    await Promise.resolve()
    const sink = openSink(res, { 'content-type': 'text/event-stream' }, { longLived: true })
    sink.open(req.url === '/frames' ? 'data: opening\n\n' : 'data: alone\n\n', req.url === '/frames' ? [chunk('data: one\n\n'), chunk('data: two\n\n')] : [])
    sink.end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.close() })
  const base = `http://127.0.0.1:${portOf(server.address())}`
  t.equal(await (await fetch(`${base}/alone`)).text(), 'data: alone\n\n')
  t.equal(writes.length, 2, 'the opening, then the end of the body')
  t.match(writes[0], [/^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nd\r\ndata: alone\n\n\r\n$/], 'the head and the opening text: one string in one write')
  writes.length = 0
  t.equal(await (await fetch(`${base}/frames`)).text(), 'data: opening\n\ndata: one\n\ndata: two\n\n')
  t.equal(writes[0].length, 3, 'the head with the opening text, and the two frames: one writev')
  t.match(writes[0][0], /^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nf\r\ndata: opening\n\n\r\n$/)
})
