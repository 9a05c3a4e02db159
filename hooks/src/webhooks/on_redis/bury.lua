-- Puts a batch in an endpoint's dead letters and takes it off where it came from, in one step: a relay that dies
-- in between neither loses it nor sends it again. (forget.lua then keeps the dead letters to their bound.)
--
-- KEYS[1]  the endpoint's dead letters (a list of JSON, oldest first)
-- KEYS[2]  where the batch came from: the journal, or the endpoint's list of batches to send again
-- ARGV[1]  the dead batch's JSON
-- ARGV[2]  `journal` or `again`
-- ARGV[3]  the journal: the endpoint's consumer group; then the ids of the batch's entries

redis.call('RPUSH', KEYS[1], ARGV[1])
if ARGV[2] == 'journal' then
  for index = 4, #ARGV do
    redis.call('XACK', KEYS[2], ARGV[3], ARGV[index])
  end
else
  redis.call('LPOP', KEYS[2])
end
return 1
