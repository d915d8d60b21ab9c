/**
 * The servers under test, each started fresh per run and pinned to one core: the hub
 * (`node dist/server.js`) and the peer, nginx with the nchan module. Every child process is
 * tracked here and killed on exit, on SIGINT/SIGTERM and on an uncaught error.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { PublishProtocol } from './publisher.js'
import { childPids } from './measure.js'
import { NCHAN_MODULE, nginxConfig } from './nginx-config.js'
import { type BenchCertificate, dialTls } from './tls.js'

export const REPO = join(import.meta.dirname, '..')
const NGINX = '/usr/sbin/nginx'

/** Every child process started by the benchmark that may still run. */
const children = new Set<ChildProcess>()
/** nginx workers seen, to kill should their master die first. */
const strays = new Set<number>()

export function track (child: ChildProcess): void {
  children.add(child)
  child.once('exit', () => children.delete(child))
}

/** Kills everything still running, at once (SIGKILL): for exits and signals. */
export function killAll (): void {
  for (const child of children) {
    if (child.pid !== undefined) {
      try { process.kill(child.pid, 'SIGKILL') } catch {}
    }
  }
  for (const pid of strays) {
    try { process.kill(pid, 'SIGKILL') } catch {}
  }
}

let hooked = false
/** Installs the exit and signal handlers that call `killAll` (once). */
export function killChildrenOnExit (): void {
  if (hooked) return
  hooked = true
  process.on('exit', killAll)
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      console.error(`\n${signal}: stopping the servers and the load generator`)
      killAll()
      process.exit(130)
    })
  }
}

export interface Server {
  name: 'hub' | 'nchan' | 'floor'
  protocol: PublishProtocol
  host: string
  port: number
  /** The process to measure (with its children: nginx's worker). */
  pid: number
  /** Prefix of a subscribe URL, followed by the channel name. */
  subscribePath: string
  /** Where the server's stderr/error log went. */
  log: string
  /** The hub over TLS as bench/tls-hub-server.ts, not the `sse-hub` command. */
  embedded?: boolean
  /** With TLS: the PEM of its certificate, what clients trust. */
  ca?: string
  /** Stops gracefully (SIGTERM), then kills after a few seconds. */
  stop (): Promise<void>
}

export interface StartOptions {
  /** The core to pin the server to (taskset -c); undefined: not pinned. */
  core: number | undefined
  /** A directory for logs, configs and profiles. */
  workDir: string
  /** Write a V8 CPU profile of the hub into this directory (node --cpu-prof). */
  profileDir?: string
  /** Environment of the hub on top of the bench's (a cluster node: REDIS_URL, SSE_HUB_REDIS_PREFIX). */
  env?: Record<string, string>
  /** The checkout whose dist/ the hub runs from (another version, to compare); default this one. */
  hubRepo?: string
  /** Serve TLS (HTTP/2 by ALPN, HTTP/1.1 without it) with this certificate. */
  tls?: BenchCertificate
}

export function pinned (core: number | undefined, command: string, args: string[]): [string, string[]] {
  return core === undefined ? [command, args] : ['taskset', ['-c', String(core), command, ...args]]
}

/** A free TCP port on 127.0.0.1 below the ephemeral range, so that client ports never clash. */
export async function freePort (from = 19090): Promise<number> {
  for (let port = from; port < from + 200; port++) {
    const free = await new Promise<boolean>((resolve) => {
      const probe = createServer()
      probe.once('error', () => resolve(false))
      probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)))
    })
    if (free) return port
  }
  throw new Error(`no free port in ${from}..${from + 199}`)
}

async function sleep (ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}

/**
 * Waits until a GET of `path` answers 200 (the hub) or a TCP connect succeeds (path undefined);
 * over TLS (HTTP/1.1) when `ca` is given.
 */
export async function waitUntilUp (port: number, child: ChildProcess, path: string | undefined, log: string, ca?: string): Promise<void> {
  const deadline = Date.now() + 15_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`server exited (${child.exitCode ?? child.signalCode}); log ${log}:\n${tail(log)}`)
    }
    const up = await new Promise<boolean>((resolve) => {
      const socket: Socket = ca === undefined ? connect({ host: '127.0.0.1', port }) : dialTls({ host: '127.0.0.1', port, ca, alpn: 'http/1.1' }).socket
      socket.setTimeout(1000, () => { socket.destroy(); resolve(false) })
      socket.once('error', () => resolve(false))
      socket.once(ca === undefined ? 'connect' : 'secureConnect', () => {
        if (path === undefined) {
          socket.destroy()
          return resolve(true)
        }
        socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`)
        socket.once('data', (buf: Buffer) => {
          socket.destroy()
          resolve(buf.toString('latin1').startsWith('HTTP/1.1 200'))
        })
      })
    })
    if (up) return
    await sleep(100)
  }
  throw new Error(`server on port ${port} did not come up in 15 s; log ${log}:\n${tail(log)}`)
}

function tail (file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-20).join('\n')
  } catch {
    return '(no log)'
  }
}

export async function stopChild (child: ChildProcess, extraPids: number[] = []): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
    await exited
    clearTimeout(timer)
  }
  for (const pid of extraPids) {
    try { process.kill(pid, 'SIGKILL') } catch {}
    strays.delete(pid)
  }
}

/** The Node flags of the `sse-hub` command: those on the `#!` line of dist/server.js. */
export function hubNodeFlags (entry = join(REPO, 'dist', 'server.js')): string[] {
  const shebang = readFileSync(entry, 'utf8').split('\n', 1)[0]
  const match = /^#!\/usr\/bin\/env -S node((?: --[\w-]+(?:=\S+)?)*)$/.exec(shebang)
  if (match === null) throw new Error(`${entry}: unexpected first line ${JSON.stringify(shebang)}`)
  return match[1].split(' ').filter((flag) => flag !== '')
}

/**
 * The hub from dist/ (run `npm run build` first) with the Node flags of the `sse-hub` command,
 * LOG_LEVEL=warn (and `options.env`), maxConnections 19,700, and
 * `--insecure`: the load generator publishes and watches presence without a token, as nchan's.
 * With `options.tls`, SSE_HUB_TLS_CERT and SSE_HUB_TLS_KEY name the certificate; a build whose
 * command does not know them runs as bench/tls-hub-server.ts (its plugin in Fastify's HTTP/2 server).
 */
export async function startHub (options: StartOptions): Promise<Server> {
  const repo = options.hubRepo ?? REPO
  const entry = join(repo, 'dist', 'server.js')
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run \`npm run build\` first`)
  const { tls } = options
  const embedded = tls !== undefined && !hubServesTls(repo)
  const port = await freePort(19090)
  const log = join(options.workDir, `hub-${port}.log`)
  const nodeArgs = [...hubNodeFlags(entry), ...options.profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`]]
  const script = embedded ? ['--import', 'tsx', join(REPO, 'bench', 'tls-hub-server.ts')] : [entry]
  const [command, args] = pinned(options.core, process.execPath,
    [...nodeArgs, ...script, '--port', String(port), '--host', '127.0.0.1', '--max-connections', '19700', '--insecure'])
  const fd = openSync(log, 'a')
  // A node of its own (memory broker) unless options.env names a Redis: never one from the shell.
  const { REDIS_URL: _url, SSE_HUB_REDIS_PREFIX: _prefix, ...inherited } = process.env
  const tlsEnv = tls === undefined ? {} : { SSE_HUB_TLS_CERT: tls.certPath, SSE_HUB_TLS_KEY: tls.keyPath }
  const child = spawn(command, args, {
    cwd: repo,
    env: { ...inherited, LOG_LEVEL: 'warn', ...tlsEnv, ...options.env },
    stdio: ['ignore', fd, fd]
  })
  track(child)
  await waitUntilUp(port, child, '/health', log, tls?.cert)
  return { ...nodeServer('hub', port, child, log), ca: tls?.cert, embedded }
}

/** Whether the built `sse-hub` command of `repo` knows the TLS options (its configuration or entry names them). */
export function hubServesTls (repo = REPO): boolean {
  const files = [join(repo, 'dist', 'server.js'), join(repo, 'dist', 'standalone.js'), join(repo, 'dist', 'lib', 'config', 'config.js')]
  return files.some((file) => existsSync(file) && readFileSync(file, 'utf8').includes('SSE_HUB_TLS_CERT'))
}

/**
 * The floor (floor-server.ts): a Fastify app that only delivers, from source through tsx, with the
 * hub's Node flags, so that the two differ only in what the hub does per request.
 */
export async function startFloor (options: StartOptions): Promise<Server> {
  const port = await freePort(19190)
  const log = join(options.workDir, `floor-${port}.log`)
  const entry = join(REPO, 'bench', 'floor-server.ts')
  const nodeArgs = [...hubNodeFlags(), '--import', 'tsx', ...options.profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`]]
  const [command, args] = pinned(options.core, process.execPath, [...nodeArgs, entry, '--port', String(port), '--host', '127.0.0.1'])
  const fd = openSync(log, 'a')
  const child = spawn(command, args, { cwd: REPO, stdio: ['ignore', fd, fd] })
  track(child)
  await waitUntilUp(port, child, '/health', log)
  return nodeServer('floor', port, child, log)
}

/** A Node server speaking the hub's protocol on 127.0.0.1 (the hub, the floor), started as `child`. */
function nodeServer (name: 'hub' | 'floor', port: number, child: ChildProcess, log: string): Server {
  return {
    name,
    protocol: 'hub',
    host: '127.0.0.1',
    port,
    pid: child.pid as number,
    subscribePath: '/subscribe?channels=',
    log,
    stop: () => stopChild(child)
  }
}

/** Whether nginx and its nchan module are installed. */
export function nchanInstalled (): boolean {
  return existsSync(NGINX) && existsSync(NCHAN_MODULE)
}

/** Installs Debian's nginx and libnginx-mod-nchan (as root), unless they are there. */
export function installNchan (): void {
  if (nchanInstalled()) return
  console.log('installing nginx and libnginx-mod-nchan with apt-get ...')
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env })
  execFileSync('apt-get', ['install', '-y', '-qq', 'nginx', 'libnginx-mod-nchan'], { stdio: 'inherit', env })
  if (!nchanInstalled()) throw new Error(`apt-get finished but ${NGINX} or ${NCHAN_MODULE} is missing`)
}

export function nginxVersion (): string {
  // nginx -v prints to stderr.
  const { stdout, stderr } = spawnSync(NGINX, ['-v'], { encoding: 'utf8' })
  const version = `${stdout ?? ''}${stderr ?? ''}`.trim().replace(/^nginx version: /, '')
  return version === '' ? 'nginx (version unknown)' : `${version} + nchan ${nchanVersion()}`
}

function nchanVersion (): string {
  try {
    return execFileSync('dpkg-query', ['-W', '-f', '$' + '{Version}', 'libnginx-mod-nchan'], { encoding: 'utf8' }).trim()
  } catch {
    return '(version unknown)'
  }
}

/** nginx + nchan, one worker process, config in a temp dir under workDir. */
export async function startNchan (options: StartOptions): Promise<Server> {
  if (!nchanInstalled()) throw new Error('nginx with nchan is not installed (installNchan)')
  const port = await freePort(19290)
  mkdirSync(options.workDir, { recursive: true })
  const dir = mkdtempSync(join(options.workDir.length > 0 ? options.workDir : tmpdir(), 'nchan-'))
  const conf = join(dir, 'nginx.conf')
  writeFileSync(conf, nginxConfig(dir, port, options.tls))
  const log = join(dir, 'error.log')
  const fd = openSync(join(dir, 'stderr.log'), 'a')
  const [command, args] = pinned(options.core, NGINX, ['-c', conf, '-p', dir])
  const child = spawn(command, args, { stdio: ['ignore', fd, fd] })
  track(child)
  await waitUntilUp(port, child, '/health', log, options.tls?.cert)
  const master = child.pid as number
  const workers = childPids(master)
  for (const pid of workers) strays.add(pid)
  return {
    name: 'nchan',
    protocol: 'nchan',
    host: '127.0.0.1',
    port,
    pid: master,
    subscribePath: '/subscribe?channels=',
    log,
    ca: options.tls?.cert,
    stop: async () => {
      await stopChild(child, workers)
      rmSync(join(dir, 'body'), { recursive: true, force: true })
    }
  }
}
