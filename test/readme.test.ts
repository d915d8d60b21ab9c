import { existsSync } from 'node:fs'
import { readFile, readdir } from 'node:fs/promises'
import { dirname, join, relative } from 'node:path'
import t from 'tap'
import { build, data } from './helper.js'

// The README's and docs/'s examples checked against the package and the hub: commands a clone can
// run, a sample stream that matches the publish example, the facts they state, and links that lead
// somewhere.

const REPO = join(import.meta.dirname, '..')
const DOCS = (await readdir(join(REPO, 'docs'))).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)
/** README.md and every page under docs/, by their path in the repository. */
const pages = new Map<string, string>()
for (const path of ['README.md', ...DOCS]) pages.set(path, await readFile(join(REPO, path), 'utf8'))

/** The text of one page; a page that is not there fails the test that reads it. */
function page (path: string): string {
  const text = pages.get(path)
  if (text === undefined) throw new Error(`${path} is not there`)
  return text
}

/** The text of a `# `, `## ` or `### ` section of a page, up to the next `## ` or `### ` heading. */
function section (path: string, title: string): string {
  const text = page(path)
  const start = text.search(new RegExp(`^#{1,3} ${title}$`, 'm'))
  if (start === -1) throw new Error(`${path} has no section "${title}"`)
  const rest = text.slice(text.indexOf('\n', start) + 1)
  const end = rest.search(/^#{2,3} /m)
  return end === -1 ? rest : rest.slice(0, end)
}

/** The bodies of the fenced blocks of one language in `text`. */
function blocks (text: string, language: string): string[] {
  return [...text.matchAll(new RegExp(`^\`\`\`${language}\\n([\\s\\S]*?)^\`\`\`$`, 'gm'))].map((match) => match[1])
}

/** The fenced blocks of one language on every page. */
function allBlocks (language: string): string[] {
  return [...pages.values()].flatMap((text) => blocks(text, language))
}

t.test('the shell examples run the command as a clone has it', async (t) => {
  const bare = allBlocks('sh').flatMap((block) => block.split('\n')).filter((line) => /^\s*sse-hub\b/.test(line))
  t.same(bare, [], '`sse-hub` is not on the PATH after npm ci: `npx sse-hub` or `npm start --`')
})

t.test('an example that mints subscriber tokens starts the hub with --subscribe-auth', async (t) => {
  let checked = 0
  for (const block of allBlocks('sh')) {
    const lines = block.split('\n')
    if (!lines.some((line) => /sse-hub token .*--subscribe\b/.test(line))) continue
    for (const line of lines.filter((line) => /sse-hub (?!token)/.test(line))) {
      checked++
      t.match(line, /--subscribe-auth\b/, `without it the hub ignores subscriber tokens: ${line}`)
    }
  }
  t.ok(checked > 0, 'some example starts the hub next to subscriber tokens')
  t.match(section('docs/security.md', 'Security'), /without `subscribeAuth`[^.]*not checked/i, 'the Security page says so')
})

t.test('the curl subscribe sample shows channel1\'s message as the publish example sends it', async (t) => {
  const body = /-d '(\{[\s\S]*?\})'/.exec(section('README.md', 'Publish'))
  if (body === null) throw new Error('no -d \'{...}\' body in the Publish example')
  const batch = JSON.parse(body[1])
  const sample = blocks(section('README.md', 'Subscribe \\(curl\\)'), 'text')[0]
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
  t.match(section('docs/embedding.md', 'Embedding'), /`publishedAt` is a number, milliseconds since the epoch/)
  t.match(section('docs/presence.md', 'Presence'), /`lastEvent\.publishedAt` and `lastEventAt` are ISO 8601 strings/)
})

t.test('the license package.json names is in LICENSE', async (t) => {
  const pkg = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8'))
  t.equal(pkg.license, 'MIT')
  const license = await readFile(join(REPO, 'LICENSE'), 'utf8')
  t.match(license, /^MIT License\n\nCopyright \(c\) 2026 The fastify-sse-hub authors\n/)
})

t.test('the nginx lines of the cluster page are lines of deploy/nginx/sse-hub.conf, in order', async (t) => {
  const shipped = (await readFile(join(REPO, 'deploy', 'nginx', 'sse-hub.conf'), 'utf8')).split('\n').map((line) => line.trim())
  const [block] = blocks(section('docs/cluster.md', 'Running several nodes'), 'nginx')
  if (block === undefined) throw new Error('no ```nginx block in "Running several nodes"')
  let at = 0
  for (const line of block.split('\n').map((line) => line.trim()).filter((line) => line !== '' && line !== '}')) {
    const found = shipped.indexOf(line, at)
    t.ok(found >= 0, `in the file, after the lines before it: ${line}`)
    if (found >= 0) at = found + 1
  }
})

/** GitHub's anchor of a heading: its text without markup, in lower case, punctuation dropped, spaces as hyphens. */
function slug (heading: string): string {
  return heading.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/[`*_]/g, '').trim().toLowerCase()
    .replace(/[^\p{L}\p{N}\s-]/gu, '').replace(/\s/g, '-')
}

/** A page's text outside its fenced blocks, where a `#` line is a heading and `](` a link. */
function prose (text: string): string {
  return text.replace(/^```[\s\S]*?^```$/gm, '')
}

/** The anchors of a page's headings; a repeated heading gets `-1`, `-2`, ... as on GitHub. */
function anchors (text: string): Set<string> {
  const found = new Set<string>()
  for (const [, heading] of prose(text).matchAll(/^#{1,6} (.+)$/gm)) {
    const base = slug(heading)
    let anchor = base
    for (let n = 1; found.has(anchor); n++) anchor = `${base}-${n}`
    found.add(anchor)
  }
  return found
}

/** The relative links of a page (links and images, outside code) that lead nowhere, and how many it has. */
function brokenLinks (path: string, text: string): { broken: string[], checked: number } {
  const broken: string[] = []
  let checked = 0
  const targets = prose(text).replace(/`[^`\n]*`/g, 'code').matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)
  for (const [, target] of targets) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue
    checked++
    const [file, anchor] = target.split('#', 2)
    const resolved = file === '' ? path : relative(REPO, join(REPO, dirname(path), decodeURIComponent(file)))
    if (file.startsWith('/') || resolved.startsWith('..')) broken.push(`${target}: not a relative link inside the repository`)
    else if (file !== '' && !existsSync(join(REPO, resolved))) broken.push(`${target}: ${resolved} does not exist`)
    else if (anchor !== undefined) {
      const linked = resolved === path ? text : pages.get(resolved)
      if (linked === undefined) broken.push(`${target}: an anchor into ${resolved}, which is not a page checked here`)
      else if (!anchors(linked).has(anchor)) broken.push(`${target}: ${resolved} has no heading with that anchor`)
    }
  }
  return { broken, checked }
}

t.test('the link check knows GitHub\'s anchors and finds a link that leads nowhere', async (t) => {
  t.equal(slug('Subscribe (curl)'), 'subscribe-curl')
  t.equal(slug('`GET /health` and drain, 2.0'), 'get-health-and-drain-20')
  t.same([...anchors('# A\n\n```sh\n# not a heading\n```\n\n## A\n### B: c\n')], ['a', 'a-1', 'b-c'])
  const sample = '# Page\n\n[ok](#page) [ok](../LICENSE) [`code`](docs/x.md) [no](#nope) [out](../../x) `[code](#nope)`\n'
  t.same(brokenLinks('docs/page.md', sample), {
    broken: [
      'docs/x.md: docs/docs/x.md does not exist',
      '#nope: docs/page.md has no heading with that anchor',
      '../../x: not a relative link inside the repository'
    ],
    checked: 5
  })
})

t.test('every relative link of the README and docs/ leads to a file, and every anchor to a heading', async (t) => {
  t.ok(DOCS.length > 0, 'docs/ has pages')
  for (const [path, text] of pages) {
    const { broken, checked } = brokenLinks(path, text)
    t.same(broken, [], `${path}: ${checked} relative links`)
    if (path === 'README.md') t.ok(checked >= DOCS.length, 'the README links every page of docs/')
  }
  const linked = [...prose(page('README.md')).matchAll(/\]\((docs\/[^)#\s]+\.md)/g)].map((match) => match[1])
  t.same(DOCS.filter((doc) => !linked.includes(doc)), [], 'the README links every page of docs/')
})

t.test('the README\'s contents list each section that follows them', async (t) => {
  const contents = section('README.md', 'Contents')
  const listed = new Set([...contents.matchAll(/\]\(#([^)]+)\)/g)].map((match) => match[1]))
  const after = prose(page('README.md')).split(/^## Contents$/m)[1] ?? ''
  const sections = [...after.matchAll(/^## (.+)$/gm)].map((match) => match[1])
  t.ok(sections.length > 0, 'sections follow the contents')
  for (const title of sections) t.ok(listed.has(slug(title)), `the contents link "${title}"`)
})

t.test('the README\'s embedding code is on the embedding page, whose code test/package.test.ts compiles', async (t) => {
  const shown = blocks(section('README.md', 'Embedding'), 'ts')
  t.ok(shown.length > 0, 'the README shows the plugin in a ```ts block')
  const full = blocks(page('docs/embedding.md'), 'ts')
  for (const block of shown) t.ok(full.includes(block), `on docs/embedding.md as it is: ${block.split('\n')[0]}`)
})

t.test('the original\'s publish, as the first screen says: a 401 by default, taken with a token or with --insecure', async (t) => {
  const why = section('README.md', 'Why this hub')
  t.match(why, /`--insecure`/, 'it names --insecure')
  t.match(why, /`Authorization: Bearer <token>`/, 'it names the token')
  const body = /-d '(\{[\s\S]*?\})'/.exec(section('README.md', 'Publish'))
  if (body === null) throw new Error('no -d \'{...}\' body in the Publish example')
  const batch = JSON.parse(body[1])

  const secure = await build(t, { insecure: false })
  t.equal((await secure.publish(batch)).statusCode, 401, 'without a token, by default')
  const token = 'a-publish-token-of-the-app-0123456789'
  const given = await build(t, { insecure: false, publishToken: token })
  t.equal((await given.publish(batch, { authorization: `Bearer ${token}` })).statusCode, 200, 'with the publish token')
  const open = await build(t, { insecure: true })
  t.equal((await open.publish(batch)).statusCode, 200, 'with insecure, as the original took it')
})
