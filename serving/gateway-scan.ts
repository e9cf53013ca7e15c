// The predict guard's body scan, in LuaJIT as the body arrives: each chunk the body reader receives is scanned once
// (plain string.find is memchr), so the body is never copied again into one string to be scanned. The result is the
// body's skeleton: the body with its long strings (the base64 images) emptied, small enough to parse whole
// (gateway-guard.ts). Short strings stay whole, so brackets inside them are string content, not nesting.

/** Strings of this many bytes or more between their quotes are emptied in the skeleton; keys and labels stay. */
export const LONG_STRING_BYTES = 256;

/**
 * Lua, run once per nginx worker (init_by_lua): defines `odapi.skeleton_scanner()`, which returns `feed(chunk)` and
 * `finish()`. `finish()` gives the skeleton, or nil when a string is never closed (not JSON). A quote after an odd run
 * of backslashes is escaped; runs and strings may span chunks.
 */
export function renderSkeletonScanner(): string {
  return `
  -- odapi predict-body scan (rendered by serving/gateway-scan.ts)
  local find, sub, byte, concat = string.find, string.sub, string.byte, table.concat
  local LONG = ${LONG_STRING_BYTES}
  function odapi.skeleton_scanner()
    local parts, n = {}, 0
    -- In a string: where its content starts in this chunk, whether it began in an earlier chunk, its length before
    -- this chunk, its earlier pieces while short (nil once long), and the backslashes ending the content so far.
    local in_str, start, spanning, before, carried, run = false, 1, false, 0, nil, 0
    local function keep(s) n = n + 1; parts[n] = s end
    local function feed(chunk)
      local at, len = 1, #chunk
      while true do
        if not in_str then
          if at > len then return end
          local open = find(chunk, '"', at, true)
          if not open then keep(at == 1 and chunk or sub(chunk, at)); return end
          if open > at then keep(sub(chunk, at, open - 1)) end
          in_str, start, spanning, before, carried, run = true, open + 1, false, 0, nil, 0
          at = open + 1
        end
        local q = at <= len and find(chunk, '"', at, true) or nil
        local stop = q and q - 1 or len
        -- The backslashes right before the quote (or ending the chunk); back to \`at\` they continue \`run\`.
        local b = stop
        while b >= at and byte(chunk, b) == 92 do b = b - 1 end
        local backslashes = b < at and run + (stop - at + 1) or stop - b
        if not q then
          -- The string goes on in the next chunk.
          local size = before + (len - start + 1)
          if size < LONG then
            carried = carried or {}
            carried[#carried + 1] = sub(chunk, start, len)
          else
            carried = nil
          end
          start, spanning, before, run = 1, true, size, backslashes
          return
        end
        if backslashes % 2 == 1 then
          -- An escaped quote: string content.
          run, at = 0, q + 1
        else
          local size = before + (q - start)
          if size >= LONG then keep('""')
          elseif not spanning then keep(sub(chunk, start - 1, q))
          else keep('"' .. concat(carried) .. sub(chunk, start, q)) end
          in_str, carried, at = false, nil, q + 1
        end
      end
    end
    local function finish()
      if in_str then return nil end
      return concat(parts, "", 1, n)
    end
    return feed, finish
  end
`;
}
