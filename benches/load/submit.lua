-- wrk script: POST /jobs with a fixed plugin id (env PLUGIN) and a small varying input, run
-- only ("prove": false: proving is the default, and a proof costs a second, not a submission).
-- wrk itself reports any non-2xx answers ("Non-2xx or 3xx responses"); run.sh fails on them.
local plugin = os.getenv("PLUGIN")
local counter = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

request = function()
  counter = counter + 1
  local body = string.format('{"plugin": "%s", "input": [%d], "prove": false}', plugin, counter % 64)
  return wrk.format(nil, "/jobs", nil, body)
end
