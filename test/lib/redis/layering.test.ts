import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'

const folder = join(import.meta.dirname, '../../../lib/redis')

t.test('lib/redis/ sits below the broker and the registry: it imports only lib/base/, itself, Node and ioredis', async (t) => {
  const files = readdirSync(folder).filter((name) => name.endsWith('.ts'))
  t.ok(files.length >= 3, `${files.length} files`)
  for (const name of files) {
    const specifiers = [...readFileSync(join(folder, name), 'utf8').matchAll(/from '([^']+)'/g)].map((match) => match[1])
    const outside = specifiers.filter((specifier) => !(specifier.startsWith('./') || specifier.startsWith('../base/') || specifier.startsWith('node:') || specifier === 'ioredis'))
    t.same(outside, [], `${name} imports nothing else`)
  }
})
