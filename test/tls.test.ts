import { X509Certificate } from 'node:crypto'
import { once } from 'node:events'
import { copyFileSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import type { ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect as tlsConnect, type TLSSocket } from 'node:tls'
import t from 'tap'
import { resolveConfig } from '../lib/config/config.js'
import { type ClientHttp2Session, type ClientHttp2Stream, createSecureServer } from 'node:http2'
import { connect as tcpConnect, type Socket } from 'node:net'
import { SocketGuard } from '../lib/wire/socket-guard.js'
import { output, spawnHub, startHub, type TestContext, waitUntil } from './helper.js'
import { h2Request, h2Session, h2Subscribe, secureHub } from './h2-client.js'
import { testCertificate } from './tls.js'

const serialOf = (pem: string): string => new X509Certificate(pem).serialNumber

/** Resolves when the socket closes, reset or not (once() would reject on the reset's error). */
const closeOf = (socket: Socket): Promise<unknown> => new Promise((resolve) => socket.once('close', resolve))

/** The serial of the certificate a new TLS connection to `port` is served. */
async function servedSerial (port: number): Promise<string> {
  const socket = tlsConnect({ port, host: '127.0.0.1', servername: 'localhost', rejectUnauthorized: false })
  await once(socket, 'secureConnect')
  const serial = socket.getPeerCertificate().serialNumber
  socket.destroy()
  return serial.toUpperCase()
}

/** A TLS connection speaking HTTP/1.1 (no ALPN), keeping what comes back; closed at teardown. */
async function h1Connection (t: TestContext, port: number, ca: string, text: string): Promise<{ socket: TLSSocket, received: () => string }> {
  const socket = tlsConnect({ port, host: '127.0.0.1', servername: 'localhost', ca })
  t.teardown(() => { socket.destroy() })
  let received = ''
  socket.setEncoding('utf8')
  socket.on('data', (chunk: string) => { received += chunk })
  socket.on('error', () => {})
  await once(socket, 'secureConnect')
  socket.write(text)
  return { socket, received: () => received }
}

t.test('tlsCert and tlsKey come together and must hold a certificate and its key', async (t) => {
  const one = testCertificate(t)
  const other = testCertificate(t)
  t.throws(() => resolveConfig({ tlsCert: one.certPath }), /^invalid option tlsCert: it needs tlsKey too/)
  t.throws(() => resolveConfig({ tlsKey: one.keyPath }, { tlsKey: 'env' }), /^invalid SSE_HUB_TLS_KEY: it needs SSE_HUB_TLS_CERT too/)
  t.throws(() => resolveConfig({ tlsCert: join(one.dir, 'missing.pem'), tlsKey: one.keyPath }), /^invalid option tlsCert: cannot read .*missing\.pem: ENOENT/)
  t.throws(() => resolveConfig({ tlsCert: one.certPath, tlsKey: one.certPath }), /^invalid option tlsKey: .*cert\.pem holds no PEM private key/)
  t.throws(() => resolveConfig({ tlsCert: one.certPath, tlsKey: other.keyPath }, { tlsCert: 'flag', tlsKey: 'flag' }), /^invalid --tls-key: .*key\.pem is not the private key of the certificate in/)
  t.equal(resolveConfig({ tlsCert: one.certPath, tlsKey: one.keyPath }).tlsCert, one.certPath)

  const { code, stderr } = await output(spawnHub(['--port', '0', '--tls-cert', one.certPath, '--tls-key', other.keyPath]))
  t.equal(code, 1, 'a mismatched pair stops the start')
  t.match(stderr, /^sse-hub: invalid --tls-key: .* is not the private key of the certificate in/)
})

t.test('HTTP/1.1 over TLS: the stream (its socket taken over), errors and timeouts in the hub\'s format', async (t) => {
  const responses: ServerResponse[] = []
  const hub = await secureHub(t, { headersTimeout: 300, requestTimeout: 300, maxBufferedBytes: 16384, slowClientTimeout: 200 }, undefined, (app) => {
    app.addHook('onRequest', async (request, reply) => { if (request.url.startsWith('/subscribe')) responses.push(reply.raw) })
  })
  const stream = await h1Connection(t, hub.port, hub.certificate.cert, 'GET /subscribe?channels=a&clientId=h1 HTTP/1.1\r\nHost: localhost\r\n\r\n')
  await waitUntil(() => stream.received().includes('event: lastEvent'), 3000, 'the opening frames')
  t.match(stream.received(), /^HTTP\/1\.1 200 OK\r\n/)
  t.match(stream.received(), /\r\nconnection: close\r\n/i)
  t.match(stream.received(), /\r\ntransfer-encoding: chunked\r\n/i)
  t.equal(responses[0].socket, null, 'the TLS socket was taken over from the HTTP server')
  const { ids } = await hub.app.hub.publish([{ channelName: 'a', type: 'n', payload: 1 }])
  await waitUntil(() => stream.received().includes(`id: ${ids[0]}`), 3000, 'the live event')

  // A reader that stops: its stream is cut with a reset of the TCP socket under TLS.
  stream.socket.pause()
  const closed = closeOf(stream.socket)
  const batch = Array.from({ length: 50 }, () => ({ channelName: 'a', type: 'b', payload: 'x'.repeat(1000) }))
  const cut = (): boolean => hub.app.hub.counters().slowDisconnects > 0
  for (let i = 0; i < 400 && !cut(); i++) {
    await hub.app.hub.publish(batch)
    // The streams are written once per event-loop turn.
    await new Promise((resolve) => setImmediate(resolve))
  }
  t.ok(cut(), 'the stalled HTTP/1.1 stream over TLS was cut')
  // A paused socket notices nothing until it reads again.
  stream.socket.resume()
  await closed

  const garbage = await h1Connection(t, hub.port, hub.certificate.cert, 'NOT HTTP\r\n\r\n')
  await closeOf(garbage.socket)
  t.match(garbage.received(), /^HTTP\/1\.1 400 Bad Request\r\n[^]*"code":"HPE_INVALID_METHOD"/)
  const slow = await h1Connection(t, hub.port, hub.certificate.cert, 'GET /health HTTP/1.1\r\nHost: local')
  await closeOf(slow.socket)
  t.match(slow.received(), /^HTTP\/1\.1 408 Request Timeout\r\n[^]*"code":"ERR_HTTP_REQUEST_TIMEOUT"/, 'headersTimeout holds')
})

t.test('a renewal of the files: new connections get the new certificate, open streams go on', async (t) => {
  const hub = await secureHub(t)
  const session = await h2Session(t, hub.url, hub.certificate.cert)
  const client = await h2Subscribe(session, '/subscribe?channels=r')
  await client.waitForCount(2)
  const before = serialOf(hub.certificate.cert)
  t.equal(await servedSerial(hub.port), before)

  const renewed = serialOf(hub.certificate.renew())
  t.not(renewed, before)
  await waitUntil(async () => await servedSerial(hub.port) === renewed, 5000, 'the renewed certificate to be served')
  const { ids } = await hub.app.hub.publish([{ channelName: 'r', type: 'n', payload: 'after' }])
  await client.waitFor((c) => c.ofType('n').length === 1, 3000, 'an event after the renewal')
  t.equal(client.ofType('n')[0].id, ids[0], 'the open stream keeps receiving')
  t.notOk(client.ended)
  const fresh = await h2Session(t, hub.url, hub.certificate.cert)
  t.equal((await h2Request(fresh, '/health')).status, 200, 'a client that trusts the new certificate connects')
})

t.test('sse-hub with TLS: a bad renewal is refused, SIGHUP reloads, SIGTERM sends GOAWAY, ends the streams and exits', async (t) => {
  const certificate = testCertificate(t)
  // The hub reads links; the renewals rewrite their targets in another directory, which it does
  // not watch: only SIGHUP brings them in. A change of the links' directory is seen by itself.
  const links = mkdtempSync(join(tmpdir(), 'sse-hub-links-'))
  t.teardown(() => rmSync(links, { recursive: true, force: true }))
  symlinkSync(certificate.certPath, join(links, 'cert.pem'))
  symlinkSync(certificate.keyPath, join(links, 'key.pem'))
  const hub = await startHub(t, ['--tls-cert', join(links, 'cert.pem'), '--tls-key', join(links, 'key.pem')])
  const first = serialOf(certificate.cert)
  t.equal(await servedSerial(hub.port), first)

  const renewed = serialOf(certificate.renew())
  hub.child.kill('SIGHUP')
  await waitUntil(() => hub.log().includes('SIGHUP received: reloaded the TLS certificate'), 5000, 'the SIGHUP reload')
  t.match(hub.log(), `TLS certificate serial ${renewed}`)
  t.equal(await servedSerial(hub.port), renewed, 'SIGHUP put the renewed certificate in use')

  // A key that does not belong to the certificate, swapped in where the hub watches: refused, logged.
  const stray = testCertificate(t)
  copyFileSync(stray.keyPath, join(links, 'key.new'))
  rmSync(join(links, 'key.pem'))
  symlinkSync(join(links, 'key.new'), join(links, 'key.pem'))
  writeFileSync(join(links, 'touch'), '')
  await waitUntil(() => hub.log().includes('the TLS files changed but cannot be used'), 5000, 'the refusal of the mismatched pair')
  t.equal(await servedSerial(hub.port), renewed, 'the certificate in use stays')

  const url = `https://localhost:${hub.port}`
  const session = await h2Session(t, url, certificate.cert)
  const streams = await Promise.all([h2Subscribe(session, '/subscribe?channels=d'), h2Subscribe(session, '/subscribe?channels=d')])
  await Promise.all(streams.map((client) => client.waitForCount(2)))
  // An idle HTTP/1.1 keep-alive connection over TLS, and one that sent half a request head.
  const keptAlive = await h1Connection(t, hub.port, certificate.cert, 'GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n')
  await waitUntil(() => keptAlive.received().includes('"status":"ok"'), 3000, 'the health answer')
  const halfSent = await h1Connection(t, hub.port, certificate.cert, 'GET /health HTTP/1.1\r\nHost: loc')
  const h1Closed = Promise.all([closeOf(keptAlive.socket), closeOf(halfSent.socket)])
  const goaway = once(session, 'goaway')
  const exited = once(hub.child, 'exit')
  hub.child.kill('SIGTERM')
  await goaway
  t.pass('the session got a GOAWAY')
  await Promise.all(streams.map((client) => client.waitForEnd(5000)))
  t.ok(streams.every((client) => client.stream.rstCode === 0), 'both streams ended, not reset')
  const [code] = await exited
  t.equal(code, 0, 'the hub exits cleanly')
  await h1Closed
  t.pass('the HTTP/1.1 connections were closed')
})

/** An HTTP/2 server with TLS (and HTTP/1.1) whose answers stay open, under a socket guard; closed at teardown. */
async function guardedServer (t: TestContext, cert: string, key: string, options: { maxConnectionsPerAddress: number, sheddingThreshold?: number }): Promise<{ url: string, idle: () => Socket }> {
  const server = createSecureServer({ allowHTTP1: true, cert, key }, (_request, response) => {
    response.writeHead(200, { 'content-type': 'text/event-stream' })
    response.write(': open\n\n')
  })
  new SocketGuard(server, options) // eslint-disable-line no-new
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => { server.close() })
  const { port } = server.address() as { port: number }
  const idle = (): Socket => {
    const socket = tcpConnect(port, '127.0.0.1')
    socket.on('error', () => {})
    t.teardown(() => { socket.destroy() })
    return socket
  }
  return { url: `https://localhost:${port}`, idle }
}

/** An HTTP/2 session with one answered request open. */
async function openRequest (t: TestContext, url: string, ca: string): Promise<{ session: ClientHttp2Session, stream: ClientHttp2Stream }> {
  const session = await h2Session(t, url, ca)
  const stream = session.request({ ':path': '/' })
  stream.on('error', () => {})
  await once(stream, 'response')
  return { session, stream }
}

t.test('the socket guard on a TLS and HTTP/2 server: a session whose request came is never shed', async (t) => {
  const { cert, key } = testCertificate(t)
  const server = await guardedServer(t, cert, key, { maxConnectionsPerAddress: 0, sheddingThreshold: 2 })
  const { session, stream } = await openRequest(t, server.url, cert)
  const first = server.idle()
  await once(first, 'connect')
  server.idle()
  await closeOf(first)
  t.pass('the oldest connection without a request was shed to make room')
  t.notOk(session.destroyed || session.closed || stream.destroyed, 'not the HTTP/2 session, whose request arrived before')
})

t.test('the socket guard on a TLS and HTTP/2 server: the per-address cap counts TCP connections, a closed one frees its place', async (t) => {
  const { cert, key } = testCertificate(t)
  const server = await guardedServer(t, cert, key, { maxConnectionsPerAddress: 2 })
  const { stream } = await openRequest(t, server.url, cert)
  const second = server.idle()
  await once(second, 'connect')
  const third = server.idle()
  await closeOf(third)
  t.pass('a third connection from the address is closed at once')
  second.destroy()
  await waitUntil(async () => {
    try {
      const { session } = await openRequest(t, server.url, cert)
      session.destroy()
      return true
    } catch {
      return false
    }
  }, 3000, 'a place freed by the closed connection')
  t.notOk(stream.destroyed, 'the first stream is still open')
})
