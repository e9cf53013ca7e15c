// The gateway's predict-body reader: nginx bounds only the gap between body reads, so a key holder could trickle
// a body for (its size × that gap). A small Lua reader (ngx_lua, access phase) takes the body itself against a
// deadline and hands it to nginx as the request body, so proxy_pass sends it unchanged; the skeleton scan
// (gateway-scan.ts) sees each chunk as it arrives.

/** The modules the reader needs, in load order (ngx_lua needs the devel kit): Debian's packages put them here. */
export const LUA_MODULES = [
  "/usr/lib/nginx/modules/ndk_http_module.so",
  "/usr/lib/nginx/modules/ngx_http_lua_module.so",
] as const;

/** Internal locations the reader redirects to: their answers close the connection. */
export const BODY_REFUSALS = {
  tooSlow: "/.odapi/body-too-slow",
  stalled: "/.odapi/body-stalled",
  lengthRequired: "/.odapi/length-required",
} as const;

/** Seconds nginx still reads (and drops) a refused body's tail, so the answer is not lost to a reset. */
export const REFUSED_BODY_LINGER_SECONDS = 2;

export interface BodyReadBounds {
  /** From the request's first byte to the body's last. */
  totalSeconds: number;
  /** Between two reads of the body. */
  gapSeconds: number;
}

/**
 * Bytes ngx_lua reads from the client per receive: a TLS record's 16 KiB. Its 4 KiB default took 23 reads per 89 KB
 * predict body; 64 KiB buffers cost more in page faults than the reads they saved (scripts/bench-gateway.ts).
 */
export const LUA_SOCKET_BUFFER_BYTES = 16 * 1024;

/**
 * The reader, for an `access_by_lua_block`: each receive waits at most min(time left, gap), so a trickled body is cut
 * at its total bound while it still trickles. The body goes into one buffer of exactly Content-Length bytes (never a
 * temp file), and each chunk is handed to \`feed\` (the skeleton scan) as it arrives. A chunked body has no length to
 * bound it in advance: 411. No body: the reader does nothing (the guard answers that).
 */
export function renderBodyReader(b: BodyReadBounds, feed: string): string {
  return `
        -- odapi predict-body reader (rendered by serving/gateway-body.ts)
        if ngx.var.http_transfer_encoding then return ngx.exec("${BODY_REFUSALS.lengthRequired}") end
        local len = tonumber(ngx.var.http_content_length)
        if len and len > 0 then
          local sock, serr = ngx.req.socket()
          if not sock then
            ngx.log(ngx.WARN, "odapi body reader: ", serr)
            return ngx.exit(400)
          end
          local deadline = ngx.req.start_time() + ${b.totalSeconds}
          ngx.req.init_body(len)
          local got = 0
          while got < len do
            -- The cached clock: it moves on every time a receive waits, the only time it could fall behind.
            local left = deadline - ngx.now()
            if left <= 0 then return ngx.exec("${BODY_REFUSALS.tooSlow}") end
            local wait = math.min(left, ${b.gapSeconds})
            -- 1 ms at least: a timeout of 0 would mean lua_socket_read_timeout's default instead.
            sock:settimeout(math.max(1, math.floor(wait * 1000)))
            local chunk, err = sock:receiveany(len - got)
            if not chunk then
              if err ~= "timeout" then return ngx.exit(444) end
              return ngx.exec(wait < ${b.gapSeconds} and "${BODY_REFUSALS.tooSlow}" or "${BODY_REFUSALS.stalled}")
            end
            ngx.req.append_body(chunk)
            ${feed}(chunk)
            got = got + #chunk
          end
          ngx.req.finish_body()
        end
`;
}
