/**
 * Memory of a hub flooded with distinct channel names: starts `server.ts` of a checkout, publishes
 * `--channels` events (one per name, ~100-byte payloads) in batches of `--batch`, and prints the
 * server's RSS before, right after, and once `--history-ttl` and a sweep have passed (not
 * waited for above a minute). An idle server collects no garbage, so its RSS keeps what was freed;
 * `--gc` makes it collect every second, to show what is still referenced.
 *
 *   node --import tsx bench/channel-flood.ts [--repo <checkout>] [--history-ttl 5000] [--max-retained-channels n] [--gc]
 *
 * Extra flags after `--` go to the server as they are.
 */
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    repo: { type: 'string', default: join(import.meta.dirname, '..') },
    channels: { type: 'string', default: '200000' },
    batch: { type: 'string', default: '1000' },
    'history-ttl': { type: 'string', default: '5000' },
    'max-retained-channels': { type: 'string' },
    gc: { type: 'boolean', default: false }
  }
})
const channels = Number(values.channels)
const batch = Number(values.batch)
const ttl = Number(values['history-ttl'])

const collect = values.gc ? ['--expose-gc', '--import', 'data:text/javascript,setInterval(globalThis.gc,1000).unref()'] : []
const args = ['--max-semi-space-size=8', ...collect, '--import', 'tsx', 'server.ts', '--insecure', '--host', '127.0.0.1', '--port', '0',
  '--body-limit', '10000000', '--history-ttl', String(ttl), ...positionals]
if (values['max-retained-channels'] !== undefined) args.push('--max-retained-channels', values['max-retained-channels'])
const server = spawn(process.execPath, args, {
  cwd: values.repo,
  env: { ...process.env, FASTIFY_AUTOLOAD_TYPESCRIPT: '1', LOG_LEVEL: 'info' },
  stdio: ['ignore', 'pipe', 'inherit']
})
process.on('exit', () => server.kill('SIGKILL'))

const port = await new Promise<number>((resolve, reject) => {
  let seen = ''
  server.stdout.on('data', (chunk: Buffer) => {
    seen += chunk.toString()
    const match = /listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(seen)
    if (match !== null) resolve(Number(match[1]))
  })
  server.once('exit', () => reject(new Error(`server exited: ${seen}`)))
})

/** Resident set size of the server, in MB. */
function rss (): number {
  const status = readFileSync(`/proc/${server.pid}/status`, 'utf8')
  return Number(/^VmRSS:\s+(\d+)/m.exec(status)![1]) / 1024
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
await sleep(1000)
const before = rss()
const payload = { text: 'x'.repeat(80), n: 0 }
const started = Date.now()
for (let sent = 0; sent < channels; sent += batch) {
  const events = []
  for (let i = sent; i < Math.min(channels, sent + batch); i++) events.push({ channelName: `user-${i}`, type: 'flood', payload: { ...payload, n: i } })
  const res = await fetch(`http://127.0.0.1:${port}/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ events }) })
  if (res.status !== 200) throw new Error(`publish: ${res.status} ${await res.text()}`)
}
const took = Date.now() - started
await sleep(500)
const after = rss()
let expired
if (ttl <= 60_000) {
  // The sweep runs every historyTtl (1 s to 1 min): wait for the events to expire and one sweep more.
  await sleep(ttl + Math.max(ttl, 1000) + 2000)
  expired = rss().toFixed(0)
}
const last = await (await fetch(`http://127.0.0.1:${port}/lastEvent?channel=user-0`)).json()
console.log(JSON.stringify({ channels, batch, historyTtl: ttl, gc: values.gc, publishMs: took, rssMB: { before: before.toFixed(0), after: after.toFixed(0), afterTtl: expired }, firstChannelLastEvent: last.response.slice(0, 40) }))
server.kill('SIGTERM')
