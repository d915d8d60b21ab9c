import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'

// The package as a user gets it: packed, installed into an app outside the repository next to an
// older fastify 5, type-checked with that app's own TypeScript, and run with plain Node.

const REPO = join(import.meta.dirname, '..')
/** The oldest fastify the package declares as its peer; the app installs it so the check covers it. */
const OLDEST_FASTIFY = '~5.2.0'
const run = promisify(execFile)

// Packing, installing and compiling take longer than the suite's per-file timeout.
t.setTimeout(360_000)

/** Runs a command in `cwd`, killed after `timeout` ms; rejects with what it printed. */
async function sh (command: string, args: string[], cwd: string, timeout: number): Promise<string> {
  try {
    const { stdout } = await run(command, args, { cwd, timeout, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, npm_config_loglevel: 'error' } })
    return stdout
  } catch (error) {
    const { stdout = '', stderr = '', message } = error as { stdout?: string, stderr?: string, message: string }
    throw new Error(`${command} ${args.join(' ')} failed in ${cwd}: ${message}\n${stdout}\n${stderr}`)
  }
}

/** The ```ts blocks of docs/embedding.md, in order, joined. */
async function embeddingSnippets (): Promise<string> {
  const page = await readFile(join(REPO, 'docs', 'embedding.md'), 'utf8')
  const blocks = [...page.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((match) => match[1])
  if (blocks.length === 0) throw new Error('docs/embedding.md has no ```ts block')
  return blocks.join('\n')
}

/** Compile-time checks appended to the embedding page's code: each fails if `app.hub` were missing or `any`. */
const TYPE_CHECKS = `
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false
function expectType<T extends true> (): T | undefined { return undefined }

const result = await app.hub.publish([{ channelName: 'orders', type: 'created', payload: null }])
expectType<Equal<typeof result, { published: number, ids: string[] }>>()
app.hub.on('join', (presence) => {
  expectType<Equal<typeof presence, { clientId: string, channels: string[] }>>()
})
app.hub.on('leave', (client) => {
  expectType<Equal<typeof client, { clientId: string }>>()
})
// @ts-expect-error a batch is an array of events
await app.hub.publish('x')
// @ts-expect-error the hub emits no such event
app.hub.on('nothing', () => {})
`

const RUN_SNIPPET = `
import Fastify from 'fastify'
import sseHub from 'fastify-sse-hub'

const app = Fastify()
await app.register(sseHub, { insecure: true })
await app.ready()
const result = await app.hub.publish([{ channelName: 'orders', type: 'created', payload: { id: 1 } }])
const page = await app.inject('/')
const files = await Promise.all(['dashboard/app.js', 'dashboard/view.js', 'dashboard/style.css', 'client.js', 'client-stream.js', 'client-share.js'].map((file) => app.inject('/' + file)))
await app.close()
const client = await import('fastify-sse-hub/client')
console.log(JSON.stringify({ ...result, page: [page.statusCode, /<title>([^<]*)/.exec(page.body)?.[1]], files: files.map((file) => file.statusCode), connect: typeof client.connect }))
`

/** The browser client as an app imports it (fastify-sse-hub/client), typed by its event map. */
const CLIENT_SNIPPET = `
import { connect, type HubStatus } from 'fastify-sse-hub/client'
const hub = connect<{ chat: { text: string } }>({ url: 'https://hub.example.com/events', channels: ['room1'] })
hub.on('chat', (chat) => chat.text.toUpperCase())
// @ts-expect-error no such event in the map
hub.on('other', () => {})
const status: HubStatus = hub.status
export { status }
`

const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    noEmit: true,
    types: ['node']
  },
  files: ['embedding.ts', 'client.ts']
}

t.test('the packed package installs beside an older fastify 5, type-checks and runs', { timeout: 300_000 }, async (t) => {
  const packDir = await mkdtemp(join(tmpdir(), 'sse-hub-pack-'))
  const appDir = await mkdtemp(join(tmpdir(), 'sse-hub-app-'))
  t.teardown(async () => {
    await rm(packDir, { recursive: true, force: true })
    await rm(appDir, { recursive: true, force: true })
  })

  // `npm pack` runs `prepare`, which builds dist/ first.
  const packed = JSON.parse(await sh('npm', ['pack', '--json', '--pack-destination', packDir], REPO, 120_000))
  const tarball = join(packDir, packed[0].filename)
  t.ok(existsSync(tarball), 'npm pack wrote the tarball')
  t.ok(packed[0].files.some((file: { path: string }) => file.path === 'LICENSE'), 'the tarball carries the LICENSE')

  await writeFile(join(appDir, 'package.json'), JSON.stringify({ name: 'embedding-app', private: true, type: 'module' }))
  await sh('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline',
    tarball, `fastify@${OLDEST_FASTIFY}`, 'typescript@~6.0.3', '@types/node@^20.19'], appDir, 180_000)

  const listed = JSON.parse(await sh('npm', ['ls', 'fastify', '--all', '--json'], appDir, 30_000))
  const versions = new Set<string>()
  const collect = (deps: Record<string, { version: string, dependencies?: object }> = {}): void => {
    for (const [name, dep] of Object.entries(deps)) {
      if (name === 'fastify') versions.add(dep.version)
      collect(dep.dependencies as typeof deps)
    }
  }
  collect(listed.dependencies)
  t.equal(versions.size, 1, `one fastify in the app (npm ls: ${[...versions].join(', ')})`)
  t.match([...versions][0], /^5\.2\./, 'the app\'s own fastify 5.2')
  t.notOk(existsSync(join(appDir, 'node_modules', 'fastify-sse-hub', 'node_modules', 'fastify')), 'no fastify nested under the package')

  await writeFile(join(appDir, 'embedding.ts'), `${await embeddingSnippets()}\n${TYPE_CHECKS}`)
  await writeFile(join(appDir, 'client.ts'), CLIENT_SNIPPET)
  await writeFile(join(appDir, 'tsconfig.json'), JSON.stringify(TSCONFIG, null, 2))
  await t.resolves(sh(process.execPath, [join('node_modules', 'typescript', 'bin', 'tsc'), '-p', '.'], appDir, 90_000),
    'the embedding page\'s code and the typed checks compile against the package')

  await writeFile(join(appDir, 'run.js'), RUN_SNIPPET)
  const result = JSON.parse(await sh(process.execPath, ['run.js'], appDir, 30_000))
  t.equal(result.published, 1, 'one event published')
  t.equal(result.ids.length, 1, 'one id back')
  t.type(result.ids[0], 'string')
  t.same(result.page, [200, 'sse-hub dashboard'], 'the packed hub serves the dashboard page')
  t.same(result.files, [200, 200, 200, 200, 200, 200], 'and its scripts and style, and the browser client')
  t.equal(result.connect, 'function', 'fastify-sse-hub/client resolves to the client')
})
