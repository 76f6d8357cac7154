-- wrk script: prints one machine-readable JSON line at the end of a run.
-- No request()/response() hooks on purpose: a response() hook makes wrk hand
-- every body to Lua, which would measure wrk instead of the server.
-- "non2xx" is wrk's status error count (responses with status >= 400; the
-- benchmark upstream never answers 1xx/3xx to these requests).
done = function(summary, latency, requests)
  local secs = summary.duration / 1e6
  local n = summary.requests
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests":%d,"duration_s":%.3f,"rps":%.2f,"bytes":%d,"bytes_per_req":%.1f,' ..
    '"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,"non2xx":%d,' ..
    '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d}\n',
    n, secs, n / secs, summary.bytes, n > 0 and summary.bytes / n or 0,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, e.status,
    e.connect, e.read, e.write, e.timeout))
end
