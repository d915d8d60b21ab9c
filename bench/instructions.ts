/**
 * Instructions per connect or per publish, counted by callgrind: a figure that does not swing with
 * what else runs on the machine, for changes smaller than the F1/F2 runs' noise. The server (the
 * hub's `sse-hub` from dist/, or the floor) runs under `valgrind --tool=callgrind` with
 * instrumentation off; after a warm-up this process turns it on around the measured requests only.
 * The count is split into V8's optimizing compiler and its garbage collector, which run when V8
 * decides (a window may catch a major collection or a recompile, or not), and the rest, which
 * repeats within about 1 % from run to run.
 *
 * node --import tsx bench/instructions.ts connect|publish [--server hub|floor] [--hub-repo DIR]
 *   [--count 3000] [--warmup 6000]
 *
 * connect: `warmup` subscribes (then closed), then `count` subscribes, each until its `registered`.
 * publish: 1,000 subscribers on a channel each, `warmup` POSTs of one event, then `count`, 16 in flight.
 * `--warmup 0` counts a cold server, as F1 and F2 start it: the compiler's share then is V8 making
 * the server's code fast, and the rest includes the code run before it is (e.g. `connect --warmup 0
 * --count 15000`, about two minutes).
 * Needs valgrind (apt-get install valgrind); about a minute a run.
 */
import { execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { Agent, get, request } from 'node:http'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { freePort, REPO } from './servers.js'

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    server: { type: 'string', default: 'hub' },
    'hub-repo': { type: 'string', default: REPO },
    count: { type: 'string', default: '3000' },
    warmup: { type: 'string', default: '6000' }
  }
})
const mode = positionals[0]
if (mode !== 'connect' && mode !== 'publish') throw new Error('usage: instructions.ts connect|publish [--server hub|floor] [--hub-repo DIR] [--count N] [--warmup N]')
const count = Number(values.count)
const warmup = Number(values.warmup)

const dir = mkdtempSync(join(tmpdir(), 'sse-hub-callgrind-'))
const port = await freePort(19500)
const server = values.server === 'floor'
  ? ['--import', 'tsx', join(REPO, 'bench', 'floor-server.ts'), '--port', String(port)]
  : [join(values['hub-repo'], 'dist', 'server.js'), '--port', String(port), '--host', '127.0.0.1', '--insecure', '--max-connections', '19700']
const child = spawn('valgrind', ['--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${join(dir, 'out.%p')}`,
  process.execPath, '--max-semi-space-size=8', ...server], { cwd: REPO, stdio: ['ignore', 'ignore', openSync(join(dir, 'log'), 'a')], env: { ...process.env, LOG_LEVEL: 'warn' } })
process.on('exit', () => { child.kill('SIGKILL'); rmSync(dir, { recursive: true, force: true }) })
// Node starts many times slower under valgrind.
for (let tries = 0; !await healthy(); tries++) {
  if (tries === 600 || child.exitCode !== null) throw new Error(`the server did not come up:\n${readFileSync(join(dir, 'log'), 'utf8')}`)
  await new Promise((resolve) => setTimeout(resolve, 500))
}

function healthy (): Promise<boolean> {
  return new Promise((resolve) => {
    get({ port, host: '127.0.0.1', path: '/health' }, (res) => {
      res.resume()
      resolve(res.statusCode === 200)
    }).on('error', () => resolve(false))
  })
}

/** Turns instrumentation on or off, or dumps the counts. */
function control (...args: string[]): void {
  execFileSync('callgrind_control', [...args, String(child.pid)], { stdio: 'ignore' })
}

function subscribe (channel: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let text = ''
    const first = (chunk: Buffer): void => {
      text += chunk.toString('latin1')
      if (!text.includes('event: registered')) return
      socket.removeListener('data', first)
      socket.resume()
      resolve(socket)
    }
    socket.on('error', reject)
    socket.on('data', first)
    socket.write(`GET /subscribe?channels=${channel} HTTP/1.1\r\nHost: bench\r\n\r\n`)
  })
}

const agent = new Agent({ keepAlive: true, maxSockets: 16 })
function publish (channel: string): Promise<void> {
  const body = JSON.stringify({ events: [{ channelName: channel, type: 'bench', payload: { n: 1, text: 'x'.repeat(60) } }] })
  return new Promise((resolve, reject) => {
    const req = request({ port, host: '127.0.0.1', method: 'POST', path: '/publish', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume()
      res.on('end', resolve)
    })
    req.on('error', reject)
    req.end(body)
  })
}

/** Runs `task(0..n-1)` with `width` in flight; resolves with the results. */
async function inFlight<T> (n: number, width: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = []
  let next = 0
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < n) results.push(await task(next++))
  }))
  return results
}

const held: Socket[] = []
if (mode === 'connect') {
  for (const socket of await inFlight(warmup, 32, (i) => subscribe(`warm-${i % 50}`))) socket.destroy()
  await new Promise((resolve) => setTimeout(resolve, 2000))
  control('-i', 'on')
  held.push(...await inFlight(count, 32, (i) => subscribe(`c-${i % 100}`)))
  control('-i', 'off')
} else {
  held.push(...await inFlight(1000, 32, (i) => subscribe(`p-${i}`)))
  await inFlight(warmup, 16, (i) => publish(`p-${i % 1000}`))
  await new Promise((resolve) => setTimeout(resolve, 1000))
  control('-i', 'on')
  await inFlight(count, 16, (i) => publish(`p-${i % 1000}`))
  await new Promise((resolve) => setTimeout(resolve, 200))
  control('-i', 'off')
}
control('-d')
await new Promise((resolve) => setTimeout(resolve, 1000))
for (const socket of held) socket.destroy()

// Functions by part: V8's compiler, its garbage collector, everything else.
const parts = { compiler: 0, gc: 0, rest: 0 }
for (const file of readdirSync(dir).filter((name) => /^out\.\d+\.\d+$/.test(name))) {
  const text = execFileSync('callgrind_annotate', ['--threshold=100', join(dir, file)], { encoding: 'utf8', maxBuffer: 1 << 28 })
  for (const [, figure, name] of text.matchAll(/^\s*([\d,]+) \([^)]*\)\s+(\S.*)$/gm)) {
    if (name.startsWith('PROGRAM TOTALS')) continue
    const ir = Number(figure.replaceAll(',', ''))
    if (/compiler::|Compiler|[Mm]aglev/.test(name)) parts.compiler += ir
    else if (/Scaveng|Heap|heap::|Mark|Sweep|Evacuat|GC/.test(name)) parts.gc += ir
    else parts.rest += ir
  }
}
const per = (ir: number): string => Math.round(ir / count).toLocaleString('en-US')
const total = parts.compiler + parts.gc + parts.rest
console.log(`${values.server} ${values.server === 'hub' ? values['hub-repo'] : ''}: ${per(total)} instructions per ${mode} (${count} after ${warmup} of warm-up): V8 compiler ${per(parts.compiler)}, garbage collection ${per(parts.gc)}, the rest ${per(parts.rest)}`)
process.exit(0)
