-- Keeps an endpoint's dead letters to their bound: the oldest past it are forgotten, their events counted.
--
-- KEYS[1]  the endpoint's dead letters (a list of JSON, oldest first)
-- KEYS[2]  the count of events forgotten
-- ARGV[1]  how many dead batches are kept
-- Returns how many events were forgotten now.

local forgotten = 0
while redis.call('LLEN', KEYS[1]) > tonumber(ARGV[1]) do
  local oldest = cjson.decode(redis.call('LPOP', KEYS[1]))
  forgotten = forgotten + #oldest.events
end
if forgotten > 0 then
  redis.call('INCRBY', KEYS[2], forgotten)
end
return forgotten
