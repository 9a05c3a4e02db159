-- Moves the oldest entries waiting for an endpoint past the queue's bound to its dead letters, in one step with
-- moving the endpoint's group past them (XGROUP SETID), so no sender takes them and nothing is lost in between.
-- The entries were read (and their events written) before; those a sender has taken since are left to it.
--
-- (forget.lua then keeps the dead letters to their bound.)
--
-- KEYS[1]  the journal
-- KEYS[2]  the endpoint's dead letters
-- ARGV[1]  the endpoint (its group)
-- ARGV[2]  the most events in a dead batch
-- ARGV[3]  now, Unix ms
-- ARGV[4…] the entries, oldest first, two arguments each: the id, and the event's JSON text ('' for an entry the
--          endpoint does not want)
-- Returns how many events went to the dead letters.

local function id_parts(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end

local function after(a, b)
  local a_ms, a_seq = id_parts(a)
  local b_ms, b_seq = id_parts(b)
  return a_ms > b_ms or (a_ms == b_ms and a_seq > b_seq)
end

local last, read
for _, group in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local fields = {}
  for index = 1, #group, 2 do
    fields[group[index]] = group[index + 1]
  end
  if fields['name'] == ARGV[1] then
    last, read = fields['last-delivered-id'], fields['entries-read']
  end
end
if not last then
  return 0
end

local skipped, dead_events, through = 0, 0, nil -- skipped: entries moved past, wanted or not
local batch, first_id, last_id = {}, nil, nil
local function bury()
  if #batch > 0 then
    local dead = '{"id":"msg_' .. ARGV[1] .. '_' .. first_id .. '_' .. last_id .. '","events":['
      .. table.concat(batch, ',') .. '],"reason":"queue full","at":' .. ARGV[3] .. '}'
    redis.call('RPUSH', KEYS[2], dead)
    batch, first_id = {}, nil
  end
end
for index = 4, #ARGV, 2 do
  local id, text = ARGV[index], ARGV[index + 1]
  if after(id, last) then
    skipped, through = skipped + 1, id
    if text ~= '' then
      dead_events = dead_events + 1
      first_id = first_id or id
      last_id = id
      batch[#batch + 1] = text
      if #batch >= tonumber(ARGV[2]) then
        bury()
      end
    end
  end
end
bury()
if not through then
  return 0
end
if read then
  redis.call('XGROUP', 'SETID', KEYS[1], ARGV[1], through, 'ENTRIESREAD', read + skipped)
else
  redis.call('XGROUP', 'SETID', KEYS[1], ARGV[1], through)
end
return dead_events
