-- Tells what a relay that died (its liveness key expired) held: each presence meta its connections tracked leaves,
-- and each topic only it held is vacated (after the delay, by due.lua). Done once, by the first relay to run it.
--
-- KEYS[1]  the journal
-- KEYS[2]  the set of relays
-- KEYS[3]  the dead relay's set of held topics
-- KEYS[4]  the dead relay's hash of presence metas: `topic \0 key \0 meta` -> 1
-- KEYS[5]  the topics vacated and waiting for the delay: topic -> when it is due (Unix ms)
-- KEYS[6]  when each of those was vacated: topic -> Unix ms
-- ARGV[1]  the dead relay
-- ARGV[2]  the prefix of a topic's occupancy hash
-- ARGV[3]  the vacated delay in ms
-- Returns 1 if this run told it, 0 if another relay had.

if redis.call('SREM', KEYS[2], ARGV[1]) == 0 then
  return 0
end
local now = redis.call('TIME')
local ms = now[1] * 1000 + math.floor(now[2] / 1000)
for _, field in ipairs(redis.call('HKEYS', KEYS[4])) do
  local first = string.find(field, '\0', 1, true)
  local second = first and string.find(field, '\0', first + 1, true)
  if second then
    local topic, key, meta = string.sub(field, 1, first - 1), string.sub(field, first + 1, second - 1),
      string.sub(field, second + 1)
    local text = '{"type":"presence.leave","topic":' .. cjson.encode(topic) .. ',"key":' .. cjson.encode(key)
      .. ',"metas":[' .. meta .. '],"at":' .. ms .. '}'
    redis.call('XADD', KEYS[1], '*', 'k', 'presence.leave', 't', topic, 'e', text)
  end
end
for _, topic in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  local occupancy = ARGV[2] .. topic
  redis.call('HDEL', occupancy, ARGV[1])
  if redis.call('HLEN', occupancy) == 0 then
    redis.call('ZADD', KEYS[5], ms + tonumber(ARGV[3]), topic)
    redis.call('HSET', KEYS[6], topic, ms)
  end
end
redis.call('DEL', KEYS[3], KEYS[4])
return 1
