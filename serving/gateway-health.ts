// The gateway's keyless readiness answer for load balancers, in Lua: one status subrequest per model to TF Serving,
// all at once, and 200 only when every model has an AVAILABLE version. It says nothing but the readiness and the
// names of the models not ready.

import { HEALTH_PATH } from "./constants";

/** The internal location the status subrequests go to, followed by `/v1/models/<name>`. */
export const HEALTH_STATUS_PREFIX = "/.odapi/healthz";

/**
 * Lua, run once per nginx worker (init_by_lua, after gateway-guard.ts's, whose `odapi.json` and `odapi.refuse` it
 * uses): `odapi.healthz(models)`. TF Serving's status answers 200 also while a model is LOADING: only an AVAILABLE
 * version counts as ready.
 */
export function renderHealthCheck(): string {
  return `
  -- odapi readiness (rendered by serving/gateway-health.ts)
  local function available(res)
    if not res or res.status ~= 200 then return false end
    local doc = odapi.json.decode(res.body or "")
    local versions = type(doc) == "table" and doc.model_version_status or nil
    if type(versions) ~= "table" then return false end
    for _, v in ipairs(versions) do
      if type(v) == "table" and v.state == "AVAILABLE" then return true end
    end
    return false
  end
  function odapi.healthz(models)
    local method = ngx.req.get_method()
    if method ~= "GET" and method ~= "HEAD" then return odapi.refuse(405, "use GET for ${HEALTH_PATH}") end
    local waiting = {}
    if #models > 0 then
      local asks = {}
      for i, m in ipairs(models) do asks[i] = { "${HEALTH_STATUS_PREFIX}/v1/models/" .. m } end
      local answers = { ngx.location.capture_multi(asks) }
      for i, m in ipairs(models) do
        if not available(answers[i]) then waiting[#waiting + 1] = odapi.json.encode(m) end
      end
    end
    local ready = #models > 0 and #waiting == 0
    ngx.status = ready and 200 or 503
    ngx.header["Content-Type"] = "application/json"
    -- Built by hand: lua-cjson encodes an empty table as an object, and notReady is a list.
    ngx.print(ready and '{"status":"ready"}' or '{"status":"not ready","notReady":[' .. table.concat(waiting, ",") .. ']}', "\\n")
  end
`;
}
