-- Appends an event this relay made to the journal, with the bookkeeping that lets the events of a topic's occupancy
-- be told once across relays, and lets another relay tell what this one held if it dies (see keeper.rs).
--
-- KEYS[1]  the journal
-- KEYS[2]  this relay's set of the topics it holds a subscriber of
-- KEYS[3]  this relay's hash of the presence metas its connections track: `topic \0 key \0 meta` -> 1
-- KEYS[4]  the topic's occupancy hash: relay -> 1, for every relay holding a subscriber of it
-- KEYS[5]  the topics vacated and waiting for the delay: a sorted set, topic -> when it is due (Unix ms)
-- KEYS[6]  when each of those was vacated: topic -> Unix ms
-- ARGV[1]  what happened: `occupied`, `vacated`, `join`, `leave`, or `event`
-- ARGV[2]  this relay
-- ARGV[3]  the topic
-- ARGV[4]  the event's kind (`channel.occupied`, `presence.join`, ...)
-- ARGV[5]  the event's JSON text
-- ARGV[6]  for `vacated`: the delay in ms; for `join` and `leave`: the first of the members' fields
-- Returns 1 when an event went into the journal.

local what, relay, topic = ARGV[1], ARGV[2], ARGV[3]

local function journal()
  redis.call('XADD', KEYS[1], '*', 'k', ARGV[4], 't', topic, 'e', ARGV[5])
  return 1
end

if what == 'occupied' then
  redis.call('SADD', KEYS[2], topic)
  redis.call('HSET', KEYS[4], relay, 1)
  if redis.call('HLEN', KEYS[4]) > 1 then
    return 0
  end
  -- Back within the delay (on this relay or another): neither vacated nor occupied again.
  if redis.call('ZREM', KEYS[5], topic) == 1 then
    redis.call('HDEL', KEYS[6], topic)
    return 0
  end
  return journal()
elseif what == 'vacated' then
  redis.call('SREM', KEYS[2], topic)
  redis.call('HDEL', KEYS[4], relay)
  if redis.call('HLEN', KEYS[4]) == 0 then
    local now = redis.call('TIME')
    local ms = now[1] * 1000 + math.floor(now[2] / 1000)
    redis.call('ZADD', KEYS[5], ms + tonumber(ARGV[6]), topic)
    redis.call('HSET', KEYS[6], topic, ms)
  end
  return 0
elseif what == 'join' then
  for index = 6, #ARGV do
    redis.call('HSET', KEYS[3], ARGV[index], 1)
  end
  return journal()
elseif what == 'leave' then
  for index = 6, #ARGV do
    redis.call('HDEL', KEYS[3], ARGV[index])
  end
  return journal()
end
return journal()
