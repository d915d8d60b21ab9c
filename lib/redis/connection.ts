import { type ChainableCommander, Redis, type RedisOptions } from 'ioredis'
import type { Logger } from '../base/logger.js'

/** ms a command may take before it fails: a publish during an outage is a 503 within 2 s. */
export const COMMAND_TIMEOUT = 1500

/** ms to wait for Redis at start before the start fails: within Fastify's 10 s for a plugin to load. */
const CONNECT_TIMEOUT = 8000

/**
 * How the hub talks to Redis: no offline queue (a command while Redis is away fails at once, it
 * never turns into a late 200), a command timeout, and reconnection for ever, every 100 ms to 2 s.
 */
export const REDIS_OPTIONS: RedisOptions = {
  enableOfflineQueue: false,
  commandTimeout: COMMAND_TIMEOUT,
  maxRetriesPerRequest: 0,
  retryStrategy: (attempt) => Math.min(100 * attempt, 2000)
}

/** Connects to `url` and resolves once Redis answers; rejects after 8 s, naming the URL without its password. */
export async function connectRedis (url: string): Promise<Redis> {
  const redis = new Redis(url, REDIS_OPTIONS)
  try {
    await whenReady(redis)
  } catch (err) {
    redis.disconnect()
    throw new Error(`Redis at ${withoutPassword(url)} did not answer within ${CONNECT_TIMEOUT / 1000} s (${(err as Error).message})`)
  }
  return redis
}

/** Resolves once the client is ready; connection errors meanwhile are retried, not fatal, for 8 s. */
export function whenReady (redis: Redis): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve()
  return new Promise((resolve, reject) => {
    let lastError = 'no answer'
    const onError = (err: Error): void => { lastError = err.message }
    const timer = setTimeout(() => {
      redis.removeListener('ready', onReady)
      redis.removeListener('error', onError)
      reject(new Error(lastError))
    }, CONNECT_TIMEOUT)
    const onReady = (): void => {
      clearTimeout(timer)
      redis.removeListener('error', onError)
      resolve()
    }
    redis.once('ready', onReady)
    redis.on('error', onError)
  })
}

function withoutPassword (url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//')
}

/**
 * Logs once when a connection the hub made loses Redis and once when it is back, instead of
 * ioredis printing every failed reconnection attempt.
 */
export function logOutages (redis: Redis, logger: Logger): void {
  let down = false
  redis.on('error', (err: Error) => {
    if (down) return
    down = true
    logger.warn(`Redis unreachable (${err.message}): publishes answer 503 and subscribes are refused until it is back`)
  })
  redis.on('ready', () => {
    if (!down) return
    down = false
    logger.info('Redis reachable again')
  })
}

/** The replies of a MULTI, in order; the first error is thrown. */
export async function transaction (multi: ChainableCommander): Promise<unknown[]> {
  return ((await multi.exec()) ?? []).map(([err, value]) => {
    if (err !== null) throw err
    return value
  })
}
