import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import type { RedisKeys } from '../redis/keys.js'

/**
 * The epoch, made anew whenever the Redis process is not the one that made the current one: a
 * Redis that restarted may have come back with less than it acknowledged (an AOF synced every
 * second, an older snapshot, a replica that had not caught up), and would then number new
 * events with seqs it had given before. It records the seq the new epoch numbers after, and the
 * epoch it replaces among the past ones. Returns the epoch and the delivery stream entry after
 * which its batches start.
 * KEYS: epoch, the run id of the Redis that made it, its first entry, delivery stream, seq, the
 * seq it numbers after, past epochs. ARGV: a new epoch.
 */
const EPOCH_SCRIPT = `
local run = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
local epoch = redis.call('GET', KEYS[1])
if epoch and redis.call('GET', KEYS[2]) == run then return {epoch, redis.call('GET', KEYS[3]) or '0-0'} end
local top = redis.call('XREVRANGE', KEYS[4], '+', '-', 'COUNT', 1)
local start = top[1] and top[1][1] or '0-0'
if epoch then redis.call('SADD', KEYS[7], epoch) end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], run)
redis.call('SET', KEYS[3], start)
redis.call('SET', KEYS[6], redis.call('GET', KEYS[5]) or '0')
return {ARGV[1], start}
`

/**
 * The epochs of one Redis as a node sees them: the current one, checked again after each
 * reconnection, and the era of each epoch the node saw (numbered in the order it saw them), so
 * that its streams go on across a restart.
 */
export class RedisEpochs {
  /** False from each (re)connection until the epoch was checked: publishes and reads wait for it. */
  private checked = false
  private readonly eras = new Map<string, number>()
  private readonly onReconnect = (): void => { this.checked = false }

  constructor (private readonly redis: Redis, private readonly keys: RedisKeys) {
    redis.defineCommand('sseHubEpoch', { numberOfKeys: 7, lua: EPOCH_SCRIPT })
    redis.on('ready', this.onReconnect)
  }

  /** The epoch and the entry it starts after, made anew when missing or made by another Redis process. */
  async current (): Promise<[string, string]> {
    const { epoch, epochRun, epochStart, delivery, seq, epochSeq, pastEpochs } = this.keys
    const [current, start] = await (this.redis as Redis & { sseHubEpoch: (...args: string[]) => Promise<[string, string]> })
      .sseHubEpoch(epoch, epochRun, epochStart, delivery, seq, epochSeq, pastEpochs, randomBytes(4).toString('hex'))
    this.checked = true
    return [current, start]
  }

  /** Checks the epoch when it was not since the last (re)connection. */
  async check (): Promise<void> {
    if (!this.checked) await this.current()
  }

  /** The era of an epoch: the next one the first time this node sees it. */
  eraOf (epoch: string): number {
    let era = this.eras.get(epoch)
    if (era === undefined) {
      era = this.eras.size
      this.eras.set(epoch, era)
    }
    return era
  }

  /** Whether this node saw the epoch. */
  saw (epoch: string): boolean {
    return this.eras.has(epoch)
  }

  close (): void {
    this.redis.removeListener('ready', this.onReconnect)
  }
}
