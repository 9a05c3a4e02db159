-- Numbers one broadcast, keeps it in its topic's stream and publishes it to the relays that follow the topic, in
-- one step, so that every relay sees a topic's broadcasts in the order of their offsets. Every key is of the topic's
-- hash slot, so on a Redis Cluster it runs whole on the topic's master (the journal excepted: no cluster has one).
--
-- KEYS[1]  the topic's meta hash: `epoch` (names this run of the history) and `offset` (the last one given)
-- KEYS[2]  the topic's stream, one entry per kept broadcast, its id `<offset>-0`
-- KEYS[3]  the publishing relay's last sequence number in this topic
-- KEYS[4]  for a broadcast a client's push made, its name (see push_once.rs): one made lately is not made again
-- ARGV[1]  an epoch for a topic that has none (new, or its meta expired or was lost with Redis's data)
-- ARGV[2]  the broadcast (see wire.rs)
-- ARGV[3]  how many entries the stream keeps (MAXLEN ~; 0 keeps none)
-- ARGV[4]  milliseconds the stream lives after its last broadcast
-- ARGV[5]  milliseconds the meta lives after its last broadcast
-- ARGV[6]  the topic's channel, which the relays that follow the topic read
-- ARGV[7]  the relay's sequence number of this publish: a publish sent again after a lost reply is done once
-- ARGV[8]  the journal's stream, for a broadcast systems outside are told of (see journal.rs); empty for none
-- ARGV[9]  milliseconds a push's broadcast is remembered by its name
-- ARGV[10] how the channel is published on: PUBLISH, or SPUBLISH on a Redis Cluster (a shard channel, read on the
--          topic's master only; it is of the topic's slot)
-- ARGV[11] the epoch of the topic as the publishing relay last saw it; empty when it has seen none
-- ARGV[12] the offset it last saw in that epoch
-- Returns the broadcast's offset, or 0 for a publish that was done already.

local seq = tonumber(ARGV[7])
local last_seq = tonumber(redis.call('GET', KEYS[3]) or '0')
if seq <= last_seq then
  return 0
end
-- As long as the topic's epoch: a publish is sent again only while Redis is away, and well within that.
redis.call('SET', KEYS[3], ARGV[7], 'PX', ARGV[5])
if KEYS[4] and not redis.call('SET', KEYS[4], '1', 'NX', 'PX', ARGV[9]) then
  return 0
end

local meta = redis.call('HMGET', KEYS[1], 'epoch', 'offset')
local epoch = meta[1]
-- Redis came back without broadcasts the publishing relay has seen (a failover to a replica that had not caught up,
-- a restart from an older snapshot). Numbering on would give their offsets to new broadcasts, which every relay and
-- client that saw the lost ones would skip as had already; a new epoch makes them tell their subscribers instead.
if epoch and epoch == ARGV[11] and tonumber(meta[2]) < tonumber(ARGV[12]) then
  epoch = nil
end
if not epoch then
  epoch = ARGV[1]
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'offset', 0)
end
local offset = redis.call('HINCRBY', KEYS[1], 'offset', 1)
redis.call('PEXPIRE', KEYS[1], ARGV[5])
if tonumber(ARGV[3]) > 0 then
  local now = redis.call('TIME')
  local ms = now[1] * 1000 + math.floor(now[2] / 1000)
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], offset .. '-0', 'b', ARGV[2], 't', ms)
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
end
local numbered = offset .. ' ' .. epoch .. ' ' .. ARGV[2]
redis.call(ARGV[10], ARGV[6], numbered)
if ARGV[8] ~= '' then
  redis.call('XADD', ARGV[8], '*', 'n', numbered)
end
return offset
