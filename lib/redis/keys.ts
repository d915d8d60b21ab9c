/**
 * Every key the hub keeps in Redis, under one prefix (several hubs can share one Redis). One
 * Redis, not a Redis Cluster: the Lua scripts build the per-channel and per-client keys from the
 * family prefixes given here.
 *
 * Broker (lib/broker/redis-*.ts):
 *   seq                 string  the last seq given
 *   epoch               string  the current epoch; epoch-run: the Redis run id that made it;
 *                               epoch-start: the delivery entry it starts after; epoch-seq: the
 *                               seq it numbers after; past-epochs: set of the epochs it replaced
 *   delivery            stream  one entry per batch, id `<first seq>-0`, read by every node
 *   channels            zset    channel → its last seq (the retained channels)
 *   forgotten           string  the last seq of the channels forgotten past maxRetainedChannels
 *   last:<channel>      hash    the channel's last event
 *   history:<channel>   stream  the channel's retained events, id `<seq>-0`
 *   idem:<key>          string  a publish's Idempotency-Key (scoped to its publisher): `<digest of
 *                               the batch> <id of its first event>`, expiring after idempotencyWindow
 * Registry (lib/registry/redis-*.ts): under `presence:`, listed in redis-scripts.ts; its
 *   `subscribers` hash (channel → connections) is the cluster's subscriber index; its `changes`
 *   stream, numbered by `seq`, is what presence webhooks are made from.
 * Webhooks (lib/webhooks/redis-feed.ts):
 *   webhooks:sender     string  the nodeId of the node that sends them, with a lease (PX)
 *   webhooks:cursor     string  the number of the last presence change whose events were sent
 */
export interface RedisKeys {
  seq: string
  epoch: string
  epochRun: string
  epochStart: string
  epochSeq: string
  pastEpochs: string
  delivery: string
  channels: string
  forgotten: string
  /** Prefix of `last:<channel>`. */
  last: string
  /** Prefix of `history:<channel>`. */
  history: string
  /** Prefix of `idem:<key>`. */
  idempotency: string
  /** Prefix of every presence key (the registry's). */
  presence: string
  /** The registry's subscriber index: a hash channel → connections on every node. */
  subscribers: string
  /** The registry's stream of changes, and the number of the last one. */
  presenceChanges: string
  presenceSeq: string
  webhookSender: string
  webhookCursor: string
}

/** The key names under `prefix`. */
export function redisKeys (prefix: string): RedisKeys {
  return {
    seq: `${prefix}seq`,
    epoch: `${prefix}epoch`,
    epochRun: `${prefix}epoch-run`,
    epochStart: `${prefix}epoch-start`,
    epochSeq: `${prefix}epoch-seq`,
    pastEpochs: `${prefix}past-epochs`,
    delivery: `${prefix}delivery`,
    channels: `${prefix}channels`,
    forgotten: `${prefix}forgotten`,
    last: `${prefix}last:`,
    history: `${prefix}history:`,
    idempotency: `${prefix}idem:`,
    presence: `${prefix}presence:`,
    subscribers: `${prefix}presence:subscribers`,
    presenceChanges: `${prefix}presence:changes`,
    presenceSeq: `${prefix}presence:seq`,
    webhookSender: `${prefix}webhooks:sender`,
    webhookCursor: `${prefix}webhooks:cursor`
  }
}
