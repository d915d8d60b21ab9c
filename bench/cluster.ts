/**
 * A cluster under test: hub nodes (`startHub`, each its own process) sharing a Redis of the
 * benchmark's own, started fresh per run on a free port without persistence and pinned with the
 * nodes. The system's Redis is shared with other users and is left alone: pinning it or reading
 * its CPU would measure them too.
 */
import { execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, openSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { freePort, pinned, type Server, type StartOptions, startHub, stopChild, track, waitUntilUp } from './servers.js'

export const REDIS_SERVER = '/usr/bin/redis-server'

export interface RedisServer {
  port: number
  pid: number
  url: string
  /** `used_memory` of INFO memory: what Redis allocated, bytes. */
  usedMemory (): Promise<number>
  /** INFO commandstats since the start, the commands that took the most time first. */
  commandStats (): Promise<CommandStat[]>
  stop (): Promise<void>
}

export interface CommandStat {
  command: string
  calls: number
  /** µs Redis spent in the command (its CPU, without the network I/O around it). */
  usec: number
}

export interface Cluster {
  nodes: Server[]
  redis: RedisServer
  /** SSE_HUB_REDIS_PREFIX of the nodes: fresh per cluster. */
  prefix: string
  stop (): Promise<void>
}

export function redisInstalled (): boolean {
  return existsSync(REDIS_SERVER)
}

/** `Redis 7.0.15`, from `redis-server --version`. */
export function redisVersion (): string {
  const version = /v=(\S+)/.exec(execFileSync(REDIS_SERVER, ['--version'], { encoding: 'utf8' }))?.[1]
  return `Redis ${version ?? '(version unknown)'}`
}

/** A redis-server on a free port, no snapshots, no AOF, its log and working dir under workDir. */
export async function startRedis (options: StartOptions): Promise<RedisServer> {
  if (!redisInstalled()) throw new Error(`${REDIS_SERVER} is missing: apt-get install redis-server`)
  const port = await freePort(19390)
  const dir = join(options.workDir, `redis-${port}`)
  mkdirSync(dir, { recursive: true })
  const log = join(dir, 'redis.log')
  const [command, args] = pinned(options.core, REDIS_SERVER, [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--dir', dir, '--logfile', log, '--daemonize', 'no'
  ])
  const child = spawn(command, args, { stdio: ['ignore', openSync(join(dir, 'stdout.log'), 'a'), 'inherit'] })
  track(child)
  await waitUntilUp(port, child, undefined, log)
  const url = `redis://127.0.0.1:${port}`
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 })
  await client.connect()
  return {
    port,
    pid: child.pid as number,
    url,
    async usedMemory () {
      const match = /^used_memory:(\d+)/m.exec(await client.info('memory'))
      if (match === null) throw new Error('INFO memory without used_memory')
      return Number(match[1])
    },
    async commandStats () {
      const stats: CommandStat[] = []
      for (const match of (await client.info('commandstats')).matchAll(/^cmdstat_(\S+):calls=(\d+),usec=(\d+)/gm)) {
        stats.push({ command: match[1], calls: Number(match[2]), usec: Number(match[3]) })
      }
      return stats.sort((a, b) => b.usec - a.usec)
    },
    async stop () {
      client.disconnect()
      await stopChild(child)
      rmSync(join(dir, 'dump.rdb'), { force: true })
    }
  }
}

/**
 * `nodes` hubs on consecutive free ports, one Redis, a fresh key prefix. The nodes start one after
 * the other: each holds its port before the next looks for one.
 */
export async function startCluster (options: StartOptions & { nodes: number }): Promise<Cluster> {
  const redis = await startRedis(options)
  const prefix = `bench-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}:`
  const nodes: Server[] = []
  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map((node) => node.stop()))
    await redis.stop()
  }
  try {
    for (let i = 0; i < options.nodes; i++) {
      nodes.push(await startHub({ ...options, env: { ...options.env, REDIS_URL: redis.url, SSE_HUB_REDIS_PREFIX: prefix } }))
    }
  } catch (err) {
    await stop()
    throw err
  }
  return { nodes, redis, prefix, stop }
}
