-- Moves every dead batch of an endpoint to the batches it sends again first, as they are (ids kept).
--
-- KEYS[1]  the endpoint's dead letters
-- KEYS[2]  the endpoint's batches to send again
-- Returns how many were moved.

local moved = 0
while true do
  local dead = redis.call('LPOP', KEYS[1])
  if not dead then
    return moved
  end
  redis.call('RPUSH', KEYS[2], dead)
  moved = moved + 1
end
