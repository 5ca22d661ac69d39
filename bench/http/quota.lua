-- wrk script: alternates reserve and settle on the quota API (each reserve is settled by a later request).
local pending = {}
local admin = os.getenv("ADMIN_KEY")
local key = os.getenv("TOKEN_KEY")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. admin

request = function()
  local id = table.remove(pending)
  if id then
    return wrk.format(nil, "/api/quota/settle", nil, '{"reservation_id":"' .. id .. '","amount":55}')
  end
  return wrk.format(nil, "/api/quota/reserve", nil, '{"key":"' .. key .. '","amount":60}')
end

response = function(status, headers, body)
  local id = body:match('"reservation_id":"(%x+)","amount"')
  if id then table.insert(pending, id) end
end

done = dofile(os.getenv("BENCH_DIR") .. "/http/report.lua")
