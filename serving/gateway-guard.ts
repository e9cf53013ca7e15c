// The predict guard, in Lua after the body reader: TF Serving's JSON parser recurses without a bound (CVE-2025-0649
// class), so a predict body is parsed at the gateway first, as its skeleton (gateway-scan.ts: long strings emptied),
// by lua-cjson with a nesting limit, and its rows are counted; anything else gets a 400 naming the limit and never
// reaches TF Serving. The body that passes goes on to proxy_pass as it was read.

/** The predict-body limits the guard enforces. */
export interface PredictLimits {
  /** Deepest nesting of arrays/objects. */
  maxJsonDepth: number;
  /** Most rows in `instances`/`inputs`. */
  maxInstances: number;
}

/**
 * Lua, run once per nginx worker (init_by_lua): a JSON codec refusing nesting past the limit (and NaN, Infinity and
 * hex numbers, which JSON has not), `odapi.refuse(status, message)` (a JSON error like TF Serving's own) and
 * `odapi.check_predict(skeleton)`, which returns the 400 message for a body to refuse (an empty one too), or nil.
 */
export function renderPredictGuard(l: PredictLimits): string {
  return `
  -- odapi predict guard (rendered by serving/gateway-guard.ts)
  local json = require("cjson.safe").new()
  json.decode_max_depth(${l.maxJsonDepth})
  json.decode_invalid_numbers(false)
  odapi.json = json
  function odapi.refuse(status, message)
    local body = '{"error": ' .. json.encode(message) .. '}\\n'
    ngx.status = status
    ngx.header["Content-Type"] = "application/json"
    ngx.header["Content-Length"] = #body
    ngx.print(body)
    return ngx.exit(status)
  end
  function odapi.check_predict(skeleton)
    if skeleton == "" then return "the predict request needs a JSON body" end
    if not skeleton then return "the predict body is not valid JSON" end
    local doc, err = json.decode(skeleton)
    if doc == nil then
      if err and err:find("nested", 1, true) then return "JSON nested deeper than ${l.maxJsonDepth} levels" end
      return "the predict body is not valid JSON"
    end
    local rows = type(doc) == "table" and (doc.instances or doc.inputs) or nil
    if type(rows) == "table" and #rows > ${l.maxInstances} then
      return "more than ${l.maxInstances} instances in one request (" .. #rows .. "): send them in several"
    end
    return nil
  end
`;
}
