import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { build, data } from './helper.js'

// The README's examples checked against the package and the hub: commands a clone can run, a
// sample stream that matches the publish example, and the facts it states.

const REPO = join(import.meta.dirname, '..')
const readme = await readFile(join(REPO, 'README.md'), 'utf8')

/** The text of a `## ` or `### ` section, up to the next heading of any level. */
function section (title: string): string {
  const start = readme.search(new RegExp(`^#{2,3} ${title}$`, 'm'))
  if (start === -1) throw new Error(`README.md has no section "${title}"`)
  const rest = readme.slice(readme.indexOf('\n', start) + 1)
  const end = rest.search(/^#{2,3} /m)
  return end === -1 ? rest : rest.slice(0, end)
}

/** The bodies of the fenced blocks of one language in `text`. */
function blocks (text: string, language: string): string[] {
  return [...text.matchAll(new RegExp(`^\`\`\`${language}\\n([\\s\\S]*?)^\`\`\`$`, 'gm'))].map((match) => match[1])
}

t.test('the shell examples run the command as a clone has it', async (t) => {
  const bare = blocks(readme, 'sh').flatMap((block) => block.split('\n')).filter((line) => /^\s*sse-hub\b/.test(line))
  t.same(bare, [], '`sse-hub` is not on the PATH after npm ci: `npx sse-hub` or `npm start --`')
})

t.test('an example that mints subscriber tokens starts the hub with --subscribe-auth', async (t) => {
  let checked = 0
  for (const block of blocks(readme, 'sh')) {
    const lines = block.split('\n')
    if (!lines.some((line) => /sse-hub token .*--subscribe\b/.test(line))) continue
    for (const line of lines.filter((line) => /sse-hub (?!token)/.test(line))) {
      checked++
      t.match(line, /--subscribe-auth\b/, `without it the hub ignores subscriber tokens: ${line}`)
    }
  }
  t.ok(checked > 0, 'some example starts the hub next to subscriber tokens')
  t.match(section('Security'), /without `subscribeAuth`[^.]*not checked/i, 'the Security section says so')
})

t.test('the curl subscribe sample shows channel1\'s message as the publish example sends it', async (t) => {
  const body = /-d '(\{[\s\S]*?\})'/.exec(section('Publish'))
  if (body === null) throw new Error('no -d \'{...}\' body in the Publish example')
  const batch = JSON.parse(body[1])
  const sample = blocks(section('Subscribe \\(curl\\)'), 'text')[0]
  const shown = /^data: (\{"channelName":"channel1","type":"message".*)$/m.exec(sample)
  if (shown === null) throw new Error('no channel1 message in the Subscribe (curl) sample')

  const hub = await build(t)
  const client = await hub.subscribe('/subscribe?channels=channel1,channel2&clientId=alice')
  await client.waitForCount(3)
  t.equal((await hub.publish(batch)).statusCode, 200)
  await client.waitFor((c) => c.ofType('message').length > 0, 5000, 'the message event')
  const sent = client.ofType('message').find((message) => data(message).channelName === 'channel1')
  t.equal(sent?.data, shown[1], 'the sample\'s data line is what the hub sends')
})

t.test('publishedAt: milliseconds in the hub\'s publish event, ISO 8601 over REST, as documented', async (t) => {
  const hub = await build(t)
  const seen = new Promise<unknown>((resolve) => hub.app.hub.once('publish', (events) => resolve(events[0].publishedAt)))
  await hub.app.hub.publish([{ channelName: 'news', type: 'headline', payload: null }])
  const millis = await seen
  t.type(millis, 'number')
  const rest = (await hub.app.inject('/channels/news')).json()
  t.equal(rest.lastEvent.publishedAt, new Date(millis as number).toISOString())
  t.match(section('Embedding'), /`publishedAt` is a number, milliseconds since the epoch/)
  t.match(section('Presence'), /`lastEvent\.publishedAt` and `lastEventAt` are ISO 8601 strings/)
})

t.test('the license package.json names is in LICENSE', async (t) => {
  const pkg = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8'))
  t.equal(pkg.license, 'MIT')
  const license = await readFile(join(REPO, 'LICENSE'), 'utf8')
  t.match(license, /^MIT License\n\nCopyright \(c\) 2026 The fastify-sse-hub authors\n/)
})

t.test('the nginx lines of the Cluster mode section are lines of deploy/nginx/sse-hub.conf, in order', async (t) => {
  const shipped = (await readFile(join(REPO, 'deploy', 'nginx', 'sse-hub.conf'), 'utf8')).split('\n').map((line) => line.trim())
  const [block] = blocks(section('Running several nodes'), 'nginx')
  if (block === undefined) throw new Error('no ```nginx block in "Running several nodes"')
  let at = 0
  for (const line of block.split('\n').map((line) => line.trim()).filter((line) => line !== '' && line !== '}')) {
    const found = shipped.indexOf(line, at)
    t.ok(found >= 0, `in the file, after the lines before it: ${line}`)
    if (found >= 0) at = found + 1
  }
})
