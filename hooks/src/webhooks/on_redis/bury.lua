-- Puts a batch in an endpoint's dead letters and takes it off where it came from, in one step: a relay that dies
-- in between neither loses it nor sends it again.
--
-- KEYS[1]  the endpoint's dead letters (a list of JSON, oldest first)
-- KEYS[2]  the count of events forgotten past the dead letters' bound
-- KEYS[3]  where the batch came from: the journal, or the endpoint's list of batches to send again
-- ARGV[1]  the dead batch's JSON
-- ARGV[2]  how many dead batches are kept
-- ARGV[3]  `journal` or `again`
-- ARGV[4]  the journal: the endpoint's consumer group; then the ids of the batch's entries
-- Returns how many events were forgotten to make room.

redis.call('RPUSH', KEYS[1], ARGV[1])
if ARGV[3] == 'journal' then
  for index = 5, #ARGV do
    redis.call('XACK', KEYS[3], ARGV[4], ARGV[index])
  end
else
  redis.call('LPOP', KEYS[3])
end
local forgotten = 0
while redis.call('LLEN', KEYS[1]) > tonumber(ARGV[2]) do
  local oldest = cjson.decode(redis.call('LPOP', KEYS[1]))
  forgotten = forgotten + #oldest.events
end
if forgotten > 0 then
  redis.call('INCRBY', KEYS[2], forgotten)
end
return forgotten
