-- Tells `channel.vacated` for the topics whose delay is over and which nobody came back to, on any relay.
-- Any relay may run it: a topic is taken off the sorted set once, by whichever relay runs it first.
--
-- KEYS[1]  the journal
-- KEYS[2]  the topics vacated and waiting for the delay: topic -> when it is due (Unix ms)
-- KEYS[3]  when each of those was vacated: topic -> Unix ms
-- ARGV[1]  the prefix of a topic's occupancy hash
-- ARGV[2]  the most topics told in one run
-- Returns how many were told.

local now = redis.call('TIME')
local ms = now[1] * 1000 + math.floor(now[2] / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ms, 'LIMIT', 0, tonumber(ARGV[2]))
local told = 0
for _, topic in ipairs(due) do
  redis.call('ZREM', KEYS[2], topic)
  local at = redis.call('HGET', KEYS[3], topic) or ms
  redis.call('HDEL', KEYS[3], topic)
  if redis.call('HLEN', ARGV[1] .. topic) == 0 then
    local text = '{"type":"channel.vacated","topic":' .. cjson.encode(topic) .. ',"at":' .. at .. '}'
    redis.call('XADD', KEYS[1], '*', 'k', 'channel.vacated', 't', topic, 'e', text)
    told = told + 1
  end
end
return told
