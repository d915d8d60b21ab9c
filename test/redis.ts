import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import type { TestContext } from './helper.js'

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
