import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { freePort, type TestContext, waitUntil } from './helper.js'

/** What to run when redis-server is missing, in the one line the tests fail with. */
const MISSING = 'redis-server is not installed: apt-get install redis-server (npm test installs it when run as root), or set SSE_HUB_TEST_REDIS_URL to a Redis the tests may write to'

/** Resolves once something accepts TCP connections on `port`; false if `child` exited first. */
async function listening (child: ChildProcess, port: number): Promise<boolean> {
  await waitUntil(() => child.exitCode !== null || child.signalCode !== null || new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => { socket.destroy(); resolve(true) })
    socket.on('error', () => resolve(false))
  }), 5000, `redis-server to listen on ${port}`)
  return child.exitCode === null && child.signalCode === null
}

/** Temp directories of this process's servers, removed when it exits. */
const dirs = new Set<string>()
process.on('exit', () => { for (const dir of dirs) rmSync(dir, { recursive: true, force: true }) })

/**
 * A shell that waits for this process to end (its stdin closes then, however the process ends:
 * exit, crash or kill) and then kills `pid` and removes `dir`, so that no redis-server outlives
 * the test file that started it. It does not keep this process alive.
 */
function reaper (pid: number, dir: string): ChildProcess {
  const shell = spawn('sh', ['-c', 'read _; kill -9 "$1" 2>/dev/null; rm -rf "$2"', 'reaper', String(pid), dir], { stdio: ['pipe', 'ignore', 'ignore'], detached: true })
  shell.unref();
  (shell.stdin as unknown as Socket).unref()
  return shell
}

/**
 * Runs redis-server on `port` of 127.0.0.1, its working directory `dir`, nothing saved unless
 * `options` say so; resolves with the process once it listens, or undefined if it exited first.
 */
async function spawnServer (port: number, dir: string, options: string[]): Promise<ChildProcess | undefined> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...options], { stdio: 'ignore' })
  const failed = await once(child, 'spawn').then(() => undefined, (error: NodeJS.ErrnoException) => error)
  if (failed !== undefined) throw new Error(failed.code === 'ENOENT' ? MISSING : `redis-server: ${failed.message}`)
  const reap = reaper(child.pid!, dir)
  child.once('exit', () => { reap.kill('SIGKILL') })
  return await listening(child, port) ? child : undefined
}

/** A redis-server on a free port with a temp directory of its own, stopped when this process ends. */
async function startServer (options: string[] = []): Promise<{ child: ChildProcess, port: number, dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'sse-hub-redis-'))
  dirs.add(dir)
  for (let attempt = 1; attempt <= 3; attempt++) {
    const port = await freePort()
    const child = await spawnServer(port, dir, options)
    if (child !== undefined) return { child, port, dir }
    // Most likely another process took the port between the probe and the start.
  }
  throw new Error('redis-server did not start on a free port (tried 3 times)')
}

/**
 * The Redis the tests use: SSE_HUB_TEST_REDIS_URL when set (the tests write keys under prefixes
 * of their own there), else a redis-server of this test file's own, started on import. Never
 * REDIS_URL, which is the hub's own switch into cluster mode.
 */
export const REDIS_URL = process.env.SSE_HUB_TEST_REDIS_URL ?? await (async () => {
  const { child, port } = await startServer()
  // It lives as long as this process and does not keep it alive; the reaper stops it.
  child.unref()
  return `redis://127.0.0.1:${port}`
})()

/** A connection to the test Redis, closed at teardown. */
export function redisClient (t: TestContext): Redis {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 })
  t.teardown(() => { redis.disconnect() })
  return redis
}

/** A key prefix of the test's own; its keys are deleted at teardown. */
export function redisPrefix (t: TestContext): string {
  const prefix = `sse-hub-test:${randomBytes(6).toString('hex')}:`
  t.teardown(async () => {
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 })
    await deleteKeys(redis, prefix)
    redis.disconnect()
  })
  return prefix
}

/** Deletes every key under `prefix`: what a Redis that lost its data would have. */
export async function deleteKeys (redis: Redis, prefix: string): Promise<void> {
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
    if (keys.length > 0) await redis.del(...keys)
    cursor = next
  } while (cursor !== '0')
}

/** A TCP proxy to the test Redis that the test can cut and restore: one node's network to Redis. */
export async function redisProxy (t: TestContext): Promise<{ port: number, cut: () => Promise<void>, restore: () => Promise<void> }> {
  const target = new URL(REDIS_URL)
  const sockets = new Set<Socket>()
  let server: Server | undefined
  const listen = async (port: number): Promise<number> => {
    server = createServer((client) => {
      // A URL without a port means Redis's default port.
      const upstream = connect(Number(target.port || 6379), target.hostname)
      for (const socket of [client, upstream]) {
        sockets.add(socket)
        socket.on('error', () => {})
        socket.on('close', () => { sockets.delete(socket); client.destroy(); upstream.destroy() })
      }
      client.pipe(upstream).pipe(client)
    })
    server.listen(port, '127.0.0.1')
    await once(server, 'listening')
    return (server.address() as { port: number }).port
  }
  const port = await listen(0)
  const cut = async (): Promise<void> => {
    const closed = new Promise((resolve) => server?.close(resolve))
    for (const socket of sockets) socket.destroy()
    await closed
  }
  t.teardown(cut)
  return { port, cut, restore: async () => { await listen(port) } }
}

/**
 * A redis-server of the test's own on a free port, that it may stop, restart and signal: without
 * persistence unless `options` ask for it, its files in a temp directory unless `options` give
 * `--dir`. Stopped at teardown, and when this process ends.
 */
export async function ownRedis (t: TestContext, options: string[] = []): Promise<{ port: number, start: () => Promise<void>, stop: () => Promise<void>, signal: (name: NodeJS.Signals) => void }> {
  let { child, port, dir } = await startServer(options)
  const start = async (): Promise<void> => {
    const again = await spawnServer(port, dir, options)
    if (again === undefined) throw new Error(`redis-server did not start again on port ${port}`)
    child = again
  }
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = once(child, 'exit')
    child.kill('SIGKILL')
    await exited
  }
  t.teardown(stop)
  return { port, start, stop, signal: (name) => { child.kill(name) } }
}
