/**
 * A load generator process: runs the shards it is given as worker threads and relays messages
 * between them and the coordinator. Several of these share the subscribers, because all the
 * threads of one process share its open-file limit.
 */
import { Worker } from 'node:worker_threads'
import type { ShardConfig } from './shard.js'

if (process.send === undefined) throw new Error('agent.ts is started by load.ts with an IPC channel')
const toCoordinator = process.send.bind(process)
/** Relays to the coordinator while it listens; a shard's error after it left goes to stderr. */
function send (message: { shard: number, error?: string }): void {
  const lost = (): void => {
    if (message.error !== undefined) console.error(`shard ${message.shard}, after the coordinator left: ${message.error}`)
  }
  if (!process.connected) return lost()
  // With a callback a failed send is reported there, not thrown as an 'error' of the process.
  toCoordinator(message, undefined, {}, (err) => { if (err !== null) lost() })
}

/**
 * Node 20 does not apply `--import tsx` inside worker threads, so a worker registers tsx itself
 * before it imports shard.ts.
 */
const SHARD = new URL('./shard.ts', import.meta.url).href
const BOOT = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(SHARD)}) })`

const configs = JSON.parse(process.argv[2]) as ShardConfig[]
const workers = configs.map((config, shard) => {
  const worker = new Worker(BOOT, { eval: true, workerData: config })
  worker.on('message', (message: object) => send({ shard, ...message }))
  worker.on('error', (err) => {
    send({ shard, error: err.stack ?? String(err) })
  })
  return worker
})

process.on('message', (message: { shard: number }) => {
  workers[message.shard].postMessage(message)
})

/** The coordinator went away (or closed the channel): nothing left to do here. */
process.on('disconnect', () => {
  Promise.all(workers.map((worker) => worker.terminate())).finally(() => process.exit(0))
})
