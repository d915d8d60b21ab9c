import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { Redis } from 'ioredis'
import { type TestContext, waitUntil } from './helper.js'

/** The Redis every machine of the project runs (`.ci/run` checks that it answers). */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

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

/** A redis-server of the test's own on a free port, without persistence unless `options` ask for it. */
export async function ownRedis (t: TestContext, options: string[] = []): Promise<{ port: number, start: () => Promise<void>, stop: () => Promise<void>, signal: (name: NodeJS.Signals) => void }> {
  const probe = createServer().listen(0, '127.0.0.1')
  await once(probe, 'listening')
  const port = (probe.address() as { port: number }).port
  await new Promise((resolve) => probe.close(resolve))
  let child: ChildProcess | undefined
  const start = async (): Promise<void> => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...options], { stdio: 'ignore' })
    await waitUntil(() => new Promise((resolve) => {
      const socket = connect(port, '127.0.0.1', () => { socket.destroy(); resolve(true) })
      socket.on('error', () => resolve(false))
    }), 5000, 'redis-server to listen')
  }
  const stop = async (): Promise<void> => {
    if (child === undefined || child.exitCode !== null) return
    const exited = once(child, 'exit')
    child.kill('SIGKILL')
    await exited
  }
  t.teardown(stop)
  await start()
  return { port, start, stop, signal: (name) => { child?.kill(name) } }
}
