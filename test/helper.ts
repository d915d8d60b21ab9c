import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { connect, createServer, type Socket } from 'node:net'
import { join } from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import sseHub, { type SseHubOptions } from '../app.js'
import type { ClientRegistry } from '../lib/registry/registry.js'
import { parseJson } from '../lib/wire/json.js'
import { SseClient, type OpenOptions } from './sse-client.js'

export interface TestContext {
  teardown (fn: () => unknown): void
}

export interface TestHub {
  app: FastifyInstance
  /** http://127.0.0.1:<port> */
  url: string
  /** Opens a subscriber stream on a real socket; closed at teardown. */
  subscribe (query: string, options?: OpenOptions): Promise<SseClient>
  /** POSTs a publish body as JSON, with the given headers (e.g. `authorization`). */
  publish (body: unknown, headers?: Record<string, string>): Promise<{ statusCode: number, json: any }>
}

/**
 * Builds the app the one way every test uses: the hub plugin on a fresh Fastify, listening on a
 * real ephemeral port, closed at the end of the test. It is `insecure` (publishing and presence
 * reads open) unless the test says `insecure: false`: the security tests do, the others test
 * everything else.
 */
export async function build (t: TestContext, options: SseHubOptions = {}): Promise<TestHub> {
  const app = Fastify()
  await app.register(sseHub, { insecure: true, ...options })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  const url = `http://127.0.0.1:${address.port}`
  const clients: SseClient[] = []
  t.teardown(async () => {
    for (const client of clients) client.close()
    await app.close()
  })
  return {
    app,
    url,
    async subscribe (query, open) {
      const client = await SseClient.open(`${url}${query}`, open)
      clients.push(client)
      return client
    },
    async publish (body, headers) {
      const res = await app.inject({ method: 'POST', url: '/publish', payload: body as object, headers })
      return { statusCode: res.statusCode, json: res.json() }
    }
  }
}

/** The parsed `data` of a message. */
export function data (message: { data: string }): any {
  // Not JSON.parse: on Node 24 it can alter escaped keys (see lib/wire/json.ts), and tests compare payloads whole.
  return parseJson(message.data)
}

/**
 * Resolves once `condition` holds, polled every 10 ms (for server-side state that no stream
 * announces); rejects after `timeout` ms naming `what` (a function is called only then, so
 * that the message can show the state at the time).
 */
export async function waitUntil (condition: () => boolean | Promise<boolean>, timeout = 5000, what: string | (() => string) = 'condition'): Promise<void> {
  const deadline = Date.now() + timeout
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${typeof what === 'string' ? what : what()}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** Opens a subscriber on a raw socket; resolves once its opening frames arrived. */
export function rawSubscriber (port: number, query: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let received = ''
    socket.setEncoding('utf8')
    socket.on('data', (text: string) => {
      received += text
      if (received.includes('event: lastEvent')) resolve(socket)
    })
    socket.on('error', reject)
    socket.write(`GET /subscribe?${query} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n`)
  })
}

/**
 * The environment of a hub that a test spawns: this process's, without the variables the hub
 * reads its configuration from (REDIS_URL, LOG_LEVEL, PORT, HOST, SSE_HUB_*), so that a shell
 * that sets them changes no test; then `env`, what the test gives it.
 */
export function hubEnv (env: Record<string, string> = {}): NodeJS.ProcessEnv {
  const inherited = Object.entries(process.env).filter(([name]) => !/^(REDIS_URL|LOG_LEVEL|PORT|HOST|SSE_HUB_.*)$/.test(name))
  return { ...Object.fromEntries(inherited), FASTIFY_AUTOLOAD_TYPESCRIPT: '1', ...env }
}

/** Runs `sse-hub` from source, as `npm start` runs it from dist/. */
export function spawnHub (args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'server.ts', ...args], {
    cwd: join(import.meta.dirname, '..'),
    env: hubEnv(env),
    stdio: ['ignore', 'pipe', 'pipe']
  })
}

/** Everything a process printed, and its exit code, once it exited. */
export async function output (child: ChildProcess): Promise<{ code: number | null, stdout: string, stderr: string }> {
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (chunk) => { stdout += chunk })
  child.stderr!.on('data', (chunk) => { stderr += chunk })
  const [code] = await once(child, 'exit')
  return { code, stdout, stderr }
}

/** Resolves with the port once the server logs that it listens; rejects with what it printed if it exits first or takes 15 s. */
export function listeningPort (child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let seen = ''
    const timer = setTimeout(() => reject(new Error(`server did not start: ${seen}`)), 15000)
    const read = (chunk: Buffer): void => {
      seen += chunk.toString()
      const match = /listening at https?:\/\/127\.0\.0\.1:(\d+)/.exec(seen)
      if (match !== null) {
        clearTimeout(timer)
        resolve(Number(match[1]))
      }
    }
    child.stdout!.on('data', read)
    child.stderr!.on('data', read)
    child.once('exit', () => {
      clearTimeout(timer)
      reject(new Error(`server exited: ${seen}`))
    })
  })
}

export interface HubProcess {
  child: ChildProcess
  port: number
  /** http://127.0.0.1:<port> */
  url: string
  /** Everything the process printed so far, stdout and stderr. */
  log: () => string
}

/**
 * Starts `sse-hub` from source on an ephemeral port of 127.0.0.1, `--insecure` and the given
 * flags (or the given child, for one started another way); killed at teardown.
 */
export async function startHub (t: TestContext, args: string[] = [], child = spawnHub(['--port', '0', '--host', '127.0.0.1', '--insecure', ...args])): Promise<HubProcess> {
  t.teardown(() => { child.kill('SIGKILL') })
  let log = ''
  child.stdout!.on('data', (chunk) => { log += chunk })
  child.stderr!.on('data', (chunk) => { log += chunk })
  const port = await listeningPort(child)
  return { child, port, url: `http://127.0.0.1:${port}`, log: () => log }
}

/** A raw connection that sends `text` and keeps what comes back; closed at teardown. */
export function rawConnection (t: TestContext, port: number, text: string, localAddress = '127.0.0.1'): { socket: Socket, received: () => string, closed: () => boolean } {
  const socket = connect({ port, host: '127.0.0.1', localAddress })
  t.teardown(() => { socket.destroy() })
  let received = ''
  let closed = false
  socket.setEncoding('utf8')
  socket.on('data', (chunk: string) => { received += chunk })
  socket.on('error', () => {})
  socket.on('close', () => { closed = true })
  socket.write(text)
  return { socket, received: () => received, closed: () => closed }
}

/** Distinct clients and their connections, read through a registry's pages as the presence reads do. */
export async function registryCount (registry: Pick<ClientRegistry, 'clients'>): Promise<{ clients: number, connections: number }> {
  let clients = 0
  let connections = 0
  let cursor: string | undefined
  do {
    const page = await registry.clients({ limit: 1000, cursor })
    clients += page.clients.length
    for (const client of page.clients) connections += client.connections
    cursor = page.nextCursor
  } while (cursor !== undefined)
  return { clients, connections }
}

/** A port nothing listens on now (a server started on it may find it taken meanwhile and should retry). */
export async function freePort (): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1')
  await once(probe, 'listening')
  const { port } = probe.address() as { port: number }
  await new Promise((resolve) => probe.close(resolve))
  return port
}
