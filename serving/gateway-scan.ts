// The predict guard's body scan, done in Lua right after the body reader: LuaJIT's plain string.find is memchr,
// while njs 0.7.9's Buffer.indexOf is a per-byte loop (a third of nginx's CPU per request over an 89 KB body).
// Lua hands the njs guard only the body's skeleton, in an nginx variable; njs checks depth and rows on it.

/** The nginx variable holding the skeleton (declared empty in the predict location, set by the scan). */
export const SKELETON_VARIABLE = "odapi_body_skeleton";

/** Strings longer than this many bytes (the base64 images) are emptied in the skeleton; keys and labels stay. */
export const LONG_STRING_BYTES = 256;

/**
 * Lua for the end of the predict location's `access_by_lua_block`, after the whole body is in memory: sets
 * $odapi_body_skeleton to the body with its long strings replaced by `""`, or leaves it empty when a string is never
 * closed (not JSON). Short strings stay whole, so brackets inside them are still seen as string content by njs.
 */
export function renderBodyScan(): string {
  return `
        -- odapi predict-body scan (rendered by serving/gateway-scan.ts)
        local function skeleton(body)
          local find, sub, byte = string.find, string.sub, string.byte
          local parts, n = {}, 0
          -- kept: the first byte not yet copied into parts; at: where the next quote is looked for.
          local kept, at = 1, 1
          while true do
            local open = find(body, '"', at, true)
            if not open then
              parts[n + 1] = sub(body, kept)
              return table.concat(parts)
            end
            local close = open
            repeat
              close = find(body, '"', close + 1, true)
              if not close then return nil end
              -- A quote after an odd run of backslashes is escaped: the string goes on.
              local before = close - 1
              while byte(body, before) == 92 do before = before - 1 end
            until (close - 1 - before) % 2 == 0
            if close - open > ${LONG_STRING_BYTES} then
              parts[n + 1] = sub(body, kept, open - 1)
              parts[n + 2] = '""'
              n = n + 2
              kept = close + 1
            end
            at = close + 1
          end
        end
        -- The reader put the body in one in-memory buffer (never a temp file), so this is never nil.
        local body = assert(ngx.req.get_body_data(), "odapi body scan: the body is not in memory")
        ngx.var.${SKELETON_VARIABLE} = skeleton(body) or ""
`;
}
