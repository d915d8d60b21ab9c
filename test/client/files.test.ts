import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { gzipSync } from 'node:zlib'
import { build as bundle } from 'esbuild'
import Fastify from 'fastify'
import t from 'tap'
import sseHub from '../../app.js'

// The client as files: its size, its types, and how the hub serves it at <prefix>/client.js.

const REPO = join(import.meta.dirname, '..', '..')
const MODULES = ['client.js', 'client-stream.js', 'client-share.js']
/** The bound on the client, minified and gzipped. */
const MAX_BYTES = 6 * 1024

t.test('minified and gzipped, the client is at most 6 KB', async (t) => {
  const result = await bundle({
    entryPoints: [join(REPO, 'client', 'client.js')], bundle: true, minify: true, format: 'esm', target: 'es2022', write: false
  })
  const minified = result.outputFiles[0].contents
  const gzipped = gzipSync(minified, { level: 9 }).length
  t.ok(gzipped <= MAX_BYTES, `${gzipped} bytes gzipped (${minified.length} minified), at most ${MAX_BYTES}`)
  t.comment(`client: ${minified.length} bytes minified, ${gzipped} gzipped`)
})

t.test('the client, its declarations, the type test and the React example type-check (client/tsconfig.json, with the DOM)', async (t) => {
  const tsc = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc')
  const run = promisify(execFile)
  await t.resolves(run(process.execPath, [tsc, '-p', join(REPO, 'client', 'tsconfig.json')], { cwd: REPO, timeout: 120_000 }).catch((error) => {
    throw new Error(`tsc: ${error.stdout}${error.stderr}`)
  }), 'tsc -p client/tsconfig.json')
})

t.test('the hub serves the client under its prefix: JavaScript, with an ETag, revalidated, and CORS', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(sseHub, { insecure: true, prefix: '/events', corsOrigins: '*' })
  for (const name of MODULES) {
    const res = await app.inject({ url: `/events/${name}`, headers: { origin: 'https://app.example.com' } })
    t.equal(res.statusCode, 200, name)
    t.equal(res.headers['content-type'], 'text/javascript; charset=utf-8', `${name}: JavaScript`)
    t.equal(res.body, await readFile(join(REPO, 'client', name), 'utf8'), `${name}: the file as it is`)
    t.equal(res.headers['cache-control'], 'public, no-cache', `${name}: revalidated on each use`)
    t.equal(res.headers['x-content-type-options'], 'nosniff')
    t.equal(res.headers['access-control-allow-origin'], '*', `${name}: importable from another origin`)
    const etag = String(res.headers.etag)
    t.match(etag, /^"[\w-]{27}"$/, `${name}: a strong ETag`)
    const again = await app.inject({ url: `/events/${name}`, headers: { 'if-none-match': `"other", ${etag}` } })
    t.equal(again.statusCode, 304, `${name}: 304 for its ETag`)
    t.equal(again.body, '')
    t.equal((await app.inject({ url: `/events/${name}`, headers: { 'if-none-match': '"other"' } })).statusCode, 200, `${name}: 200 for another`)
  }
  t.equal((await app.inject('/events/client.d.ts')).statusCode, 404, 'only the modules')
  t.equal((await app.inject('/events/client/client.js')).statusCode, 404)
  const imports = [...(await app.inject('/events/client.js')).body.matchAll(/from '\.\/([\w-]+\.js)'/g)].map((match) => match[1]).sort()
  t.same(imports, ['client-share.js', 'client-stream.js'], 'what client.js imports is served beside it')
})

t.test('without the dashboard the client is served all the same', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(sseHub, { insecure: true, dashboard: false })
  t.equal((await app.inject('/client.js')).statusCode, 200)
})
