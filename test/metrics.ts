import type { FastifyInstance } from 'fastify'

/** Samples of a Prometheus text exposition: `name{labels}` → value (`name` alone without labels). */
export type Samples = Map<string, number>

/** Reads the samples of an exposition; `# HELP`/`# TYPE` lines are checked to come with each metric. */
export function parseMetrics (text: string): Samples {
  const samples: Samples = new Map()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/.exec(line)
    if (match === null) throw new Error(`not a sample line: ${JSON.stringify(line)}`)
    samples.set(match[1], Number(match[2]))
  }
  return samples
}

/** Scrapes `url` (e.g. `/metrics`) of an app and reads the samples; throws unless it answers 200. */
export async function scrape (app: FastifyInstance, url = '/metrics', headers: Record<string, string> = {}): Promise<Samples> {
  const reply = await app.inject({ url, headers })
  if (reply.statusCode !== 200) throw new Error(`${url} answered ${reply.statusCode}: ${reply.body}`)
  return parseMetrics(reply.body)
}
