-- http_spec.lua: ns.http (core/http.c, libcurl), against a real registry
-- (Debian's docker-registry, started and stopped here on 127.0.0.1, see
-- spec/support/registry.lua) holding images that skopeo pushed from OCI
-- layouts made by shell tools (spec/support/oci.lua). Misuse raises; a
-- transfer that fails returns nil, message, curl code; an HTTP error
-- status is a response.
local H = require "support.helper"
local oci = require "support.oci"
local registry = require "support.registry"
local http = require "ns.http"
local ns = H.ns

local MANIFEST = oci.MANIFEST

local function sha256_file(path)
  return "sha256:" .. oci.run("sha256sum " .. oci.shquote(path)):match("^(%x+)")
end

local function readfile(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = (a << 16) | ((b or 0) << 8) | (c or 0)
    for j = 3, 0, -1 do
      local k = (n >> (6 * j)) & 63
      out[#out + 1] = B64:sub(k + 1, k + 1)
    end
    if not b then
      out[#out - 1], out[#out] = "=", "="
    elseif not c then
      out[#out] = "="
    end
  end
  return table.concat(out)
end

-- What the registries of this file were, for the last check.
local started = {}

local function start(opts)
  local r = registry.start(opts)
  started[#started + 1] = { pid = r.pid, dir = r.dir }
  return r
end

describe("ns.http", function()
  H.guard()

  it("does not touch the global table", function()
    H.assert_no_new_globals("ns.http")
  end)

  describe("client()", function()
    it("rejects unknown options and wrong types", function()
      assert.has_error(function() http.client({ timeot = 1 }) end)
      local ok, err = pcall(http.client, { timeot = 1 })
      assert.is_false(ok)
      assert.matches("unknown option 'timeot' (did you mean 'timeout'?", err, 1, true)
      assert.has_error(function() http.client({ timeout = "10" }) end)
      assert.has_error(function() http.client({ timeout = -1 }) end)
      assert.has_error(function() http.client({ verbose = 1 }) end)
      assert.has_error(function() http.client({ user_agent = "a\0b" }) end)
      assert.has_error(function() http.client(5) end)
    end)

    it("is closed by close(), <close> and the collector, and says so", function()
      local c = http.client()
      assert.matches("^http client %(0x%x+%)$", tostring(c))
      assert.is_true(c:close())
      assert.is_true(c:close())
      assert.equal("http client (closed)", tostring(c))
      local ok, err = pcall(c.request, c, { url = "http://127.0.0.1:1/" })
      assert.is_false(ok)
      assert.matches("closed http client", err)
      do
        local d <close> = http.client({ timeout = 5, connect_timeout = 1, user_agent = "spec", verbose = false })
        assert.matches("^http client", tostring(d))
      end
      http.client()
      collectgarbage()
    end)
  end)

  describe("request()", function()
    it("rejects unknown keys, wrong types and bad values before any transfer", function()
      local c <close> = http.client()
      local function raises(t, pattern)
        local ok, err = pcall(c.request, c, t)
        assert.is_false(ok, "no error for " .. pattern)
        assert.matches(pattern, err, 1, true)
      end
      local u = "http://127.0.0.1:1/"
      raises({ url = u, methd = "GET" }, "unknown option 'methd' (did you mean 'method'?")
      raises({}, "field 'url': string expected, got nil")
      raises({ url = u, method = "get" }, "field 'method': invalid method 'get'")
      raises({ url = u, body = "x" }, "field 'body': only PUT, POST and PATCH send a body")
      raises({ url = u, method = "PUT", body = 1 }, "field 'body': string expected")
      raises({ url = u, headers = { ["Bad Name"] = "x" } }, "invalid header name 'Bad Name'")
      raises({ url = u, headers = { X = "a\r\nInjected: 1" } }, "header 'X': value holds CR, LF or NUL")
      raises({ url = u, headers = { X = true } }, "header 'X': string or false expected, got boolean")
      raises({ url = u, headers = { "x" } }, "a number key")
      raises({ url = u, digest = "md5" }, "field 'digest': invalid digest 'md5' (valid: sha256)")
      raises({ url = u, max = -1 }, "field 'max': a negative size")
      raises({ url = u, max = 1.5 }, "field 'max': integer expected")
      raises({ url = u, follow = "yes" }, "field 'follow': boolean expected")
      raises({ url = u, progress = true }, "field 'progress': function expected")
      raises({ url = u, out = {} }, "field 'out': fd, fd handle or path expected")
      raises({ url = u, out = -1 }, "field 'out': fd out of range")
      local r, w = assert(ns.pipe())
      w:close()
      raises({ url = u, out = w }, "field 'out': attempt to use a closed fd")
      r:close()
    end)

    it("returns nil, message and curl's code when the transfer fails", function()
      local c <close> = http.client()
      -- a port nothing listens on: refused at once
      local port = registry.free_port()
      local url = ("http://127.0.0.1:%d/v2/"):format(port)
      local resp, msg, code = c:request({ url = url })
      assert.is_nil(resp)
      assert.equal(7, code)
      assert.matches("^GET " .. H.esc(url) .. ": .*Couldn't connect to server %(curl error 7%)$", msg)
      -- a password in the URL is not shown; a path for out is not left
      local dir = H.tmpdir("http")
      resp, msg, code = c:request({ url = ("http://u:secret@127.0.0.1:%d/"):format(port), method = "HEAD",
        out = dir .. "/body" })
      assert.is_nil(resp)
      assert.equal(7, code)
      assert.matches("^HEAD http://u:%*%*%*@127%.0%.0%.1:", msg)
      assert.is_nil(msg:find("secret", 1, true))
      assert.is_nil(ns.stat(dir .. "/body"))
      H.rmrf(dir)
      resp, msg, code = c:request({ url = "ftp://127.0.0.1/" })
      assert.is_nil(resp)
      assert.equal(1, code)
      assert.matches("^GET ftp://127.0.0.1/: .*%(curl error 1%)$", msg)
    end)
  end)

  describe("against a registry", function()
    local reg, dir, img, big, bigfile

    setup(function()
      reg = start()
      dir = H.tmpdir("http")
      ns.mkdir(dir .. "/small/etc", "0755", true)
      ns.writefile(dir .. "/small/etc/hello", "hello\n", { create = true })
      ns.mkdir(dir .. "/big", "0755", true)
      bigfile = dir .. "/big/data"
      oci.run("head -c 4000000 /dev/urandom >" .. oci.shquote(bigfile))
      img = oci.layout(dir .. "/layout", { layers = { dir .. "/small" }, tag = "small",
        config = { Env = { "A=1" }, Cmd = { "/bin/sh" } } })
      big = oci.layout(dir .. "/layout", { layers = { dir .. "/big" }, tag = "big", compression = "none" })
      reg:push(dir .. "/layout", "small", "spec/img:small")
      reg:push(dir .. "/layout", "big", "spec/img:big")
    end)

    teardown(function()
      if reg then reg:stop() end
      if dir then H.rmrf(dir) end
    end)

    local function blob_url(digest) return reg.url .. "/v2/spec/img/blobs/" .. digest end

    it("GET /v2/: 200, headers lowercased, in order in header_list", function()
      local c <close> = http.client()
      local resp = assert(c:request({ url = reg.url .. "/v2/" }))
      assert.equal(200, resp.status)
      assert.equal("{}", resp.body)
      assert.equal(2, resp.bytes)
      assert.equal("registry/2.0", resp.headers["docker-distribution-api-version"])
      assert.matches("^application/json", resp.headers["content-type"])
      assert.equal(reg.url .. "/v2/", resp.url)
      assert.equal("1.1", resp.http_version)
      assert.equal(0, resp.redirects)
      local names = {}
      for _, h in ipairs(resp.header_list) do
        assert.equal(resp.headers[h[1]], h[2])
        assert.equal(h[1]:lower(), h[1])
        names[#names + 1] = h[1]
      end
      assert.are.same({ "content-length", "content-type", "docker-distribution-api-version", "date" }, names)
    end)

    it("GET a manifest by tag: its media type, and the digest the registry gives it", function()
      local c <close> = http.client()
      local resp = assert(c:request({ url = reg.url .. "/v2/spec/img/manifests/small",
        headers = { Accept = MANIFEST }, digest = "sha256" }))
      assert.equal(200, resp.status)
      assert.equal(MANIFEST, resp.headers["content-type"])
      assert.equal(img.manifest_digest, resp.headers["docker-content-digest"])
      assert.equal(img.manifest_digest, "sha256:" .. resp.digest)
      -- skopeo pushed the layout's manifest as it was
      assert.equal(img.manifest, resp.body)
      -- registry 2.8 answers 404 (not 406) to an Accept without the OCI type
      resp = assert(c:request({ url = reg.url .. "/v2/spec/img/manifests/small" }))
      assert.equal(404, resp.status)
      assert.matches("MANIFEST_UNKNOWN", resp.body)
    end)

    it("streams a blob to a new file (0644), hashing it on the way", function()
      local c <close> = http.client()
      local layer = img.layers[1]
      local path = dir .. "/blob"
      local resp = assert(c:request({ url = blob_url(layer.digest), out = path, digest = "sha256" }))
      assert.equal(200, resp.status)
      assert.is_nil(resp.body)
      assert.equal(layer.size, resp.bytes)
      assert.equal(layer.digest, "sha256:" .. resp.digest)
      assert.equal(layer.digest, sha256_file(path))
      local st = assert(ns.stat(path))
      assert.equal(layer.size, st.size)
      assert.equal(tonumber("644", 8), st.mode & tonumber("7777", 8))
      -- O_EXCL: an existing path is the failure triple, and stays as it was
      local ok, msg, err = c:request({ url = blob_url(layer.digest), out = path })
      H.fails_with(ns.E.EEXIST, ok, msg, err)
      assert.equal("open " .. path .. ": File exists (EEXIST)", msg)
      assert.equal(layer.size, ns.stat(path).size)
      os.remove(path)
    end)

    it("streams to an fd handle and to an fd number, which stay open", function()
      local c <close> = http.client()
      local layer = img.layers[1]
      for _, as in ipairs({ "handle", "number" }) do
        local path = dir .. "/blob-" .. as
        local f <close> = assert(ns.open(path, { "wronly", "creat", "excl" }, "0600"))
        local resp = assert(c:request({ url = blob_url(layer.digest), out = as == "handle" and f or f:fileno(),
          digest = "sha256" }))
        assert.equal(layer.size, resp.bytes)
        assert.equal(layer.digest, "sha256:" .. resp.digest)
        assert.equal(layer.digest, sha256_file(path))
        assert.is_true(f:fileno() >= 0)
        f:close()
        os.remove(path)
      end
    end)

    it("HEAD: the status and headers, no body", function()
      local c <close> = http.client()
      local missing = "sha256:" .. ("0"):rep(64)
      local resp = assert(c:request({ url = blob_url(missing), method = "HEAD" }))
      assert.equal(404, resp.status)
      assert.equal("", resp.body)
      assert.equal(0, resp.bytes)
      local layer = img.layers[1]
      resp = assert(c:request({ url = blob_url(layer.digest), method = "HEAD" }))
      assert.equal(200, resp.status)
      assert.equal(tostring(layer.size), resp.headers["content-length"])
      assert.equal(layer.digest, resp.headers["docker-content-digest"])
    end)

    it("follows the registry's own redirect (/v2 -> /v2/), keeping neither its body nor its headers", function()
      local c <close> = http.client()
      local path = dir .. "/redirected"
      local resp = assert(c:request({ url = reg.url .. "/v2", out = path, digest = "sha256" }))
      assert.equal(200, resp.status)
      assert.equal(1, resp.redirects)
      assert.equal(reg.url .. "/v2/", resp.url)
      assert.equal("{}", readfile(path))
      assert.equal(2, resp.bytes)
      assert.is_nil(resp.headers.location)
      for _, h in ipairs(resp.header_list) do assert.not_equal("location", h[1]) end
      os.remove(path)
      resp = assert(c:request({ url = reg.url .. "/v2" }))
      assert.equal("{}", resp.body)
      -- follow = false: the 301 is the response
      resp = assert(c:request({ url = reg.url .. "/v2", follow = false }))
      assert.equal(301, resp.status)
      assert.equal("/v2/", resp.headers.location)
      assert.matches("Moved Permanently", resp.body)
      assert.equal(0, resp.redirects)
    end)

    it("calls progress with growing counts, at most ~10 times a second, and once at the end", function()
      local c <close> = http.client()
      local layer = big.layers[1]
      local calls = {}
      local path = dir .. "/big.tar"
      local resp = assert(c:request({ url = blob_url(layer.digest), out = path, digest = "sha256",
        progress = function(done, total)
          calls[#calls + 1] = { done = done, total = total, at = ns.clock() }
          -- slowed down, so that the transfer spans several calls (curl
          -- reads up to 100 buffers of 16 KiB between two)
          if (not total or done < total) and #calls < 20 then ns.sleep(0.12) end
        end }))
      os.remove(path)
      assert.equal(layer.digest, "sha256:" .. resp.digest)
      assert.is_true(#calls >= 4, "only " .. #calls .. " calls")
      local last = calls[#calls]
      assert.equal(layer.size, last.done)
      assert.equal(layer.size, last.total)
      for i = 2, #calls do
        assert.is_true(calls[i].done >= calls[i - 1].done)
        -- the final call comes whenever the transfer ends
        if i < #calls then assert.is_true(calls[i].at - calls[i - 1].at >= 0.09) end
      end
      -- the middle ones saw part of the body, with its total
      local partial = false
      for _, p in ipairs(calls) do
        if p.done > 0 and p.done < layer.size then
          partial = true
          assert.equal(layer.size, p.total)
        end
      end
      assert.is_true(partial)
    end)

    it("aborts when progress raises, and raises that error once curl has returned", function()
      local c <close> = http.client()
      local layer = big.layers[1]
      local path = dir .. "/aborted"
      local mine = { "mine" }
      local ok, err = pcall(c.request, c, { url = blob_url(layer.digest), out = path,
        progress = function(done) if done > 0 then error(mine) end end })
      assert.is_false(ok)
      assert.equal(mine, err)
      assert.is_nil(ns.stat(path))
      -- raised in the final call
      ok, err = pcall(c.request, c, { url = reg.url .. "/v2/", progress = function(done, total)
        if done == total then error("at the end") end
      end })
      assert.is_false(ok)
      assert.matches("at the end", err)
      -- the client is neither broken nor left busy
      ok, err = pcall(c.request, c, { url = reg.url .. "/v2/", progress = function()
        c:request({ url = reg.url .. "/v2/" })
      end })
      assert.is_false(ok)
      assert.matches("http client is in use", err)
      ok, err = pcall(c.request, c, { url = reg.url .. "/v2/", progress = function() c:close() end })
      assert.is_false(ok)
      assert.matches("http client is in use", err)
      assert.equal(200, assert(c:request({ url = reg.url .. "/v2/" })).status)
    end)

    it("fails a body over max in memory (curl code 63); max does not bound out", function()
      local c <close> = http.client()
      local url = reg.url .. "/v2/spec/img/manifests/small"
      local n = #img.manifest
      local resp, msg, code = c:request({ url = url, headers = { Accept = MANIFEST }, max = n - 1 })
      assert.is_nil(resp)
      assert.equal(63, code)
      assert.equal(("GET %s: response body over %d bytes (option max) (curl error 63)"):format(url, n - 1), msg)
      resp = assert(c:request({ url = url, headers = { Accept = MANIFEST }, max = n }))
      assert.equal(n, #resp.body)
      local layer = big.layers[1]
      local path = dir .. "/unbounded"
      resp = assert(c:request({ url = blob_url(layer.digest), out = path, max = 10 }))
      assert.equal(layer.size, resp.bytes)
      os.remove(path)
      -- the default, 16 MiB, holds a 4 MB blob
      resp = assert(c:request({ url = blob_url(layer.digest), digest = "sha256" }))
      assert.equal(layer.size, #resp.body)
      assert.equal(layer.digest, "sha256:" .. resp.digest)
    end)

    it("uploads with POST, PATCH and PUT, and deletes with DELETE", function()
      local c <close> = http.client()
      local data = ("luactr upload\n"):rep(1000)
      local f = assert(io.open(dir .. "/upload", "wb"))
      f:write(data)
      f:close()
      local digest = sha256_file(dir .. "/upload")
      os.remove(dir .. "/upload")
      local resp = assert(c:request({ url = reg.url .. "/v2/spec/up/blobs/uploads/", method = "POST" }))
      assert.equal(202, resp.status)
      local loc = resp.headers.location
      if loc:sub(1, 1) == "/" then loc = reg.url .. loc end
      resp = assert(c:request({ url = loc, method = "PATCH", body = data:sub(1, 5000),
        headers = { ["Content-Type"] = "application/octet-stream" } }))
      assert.equal(202, resp.status)
      loc = resp.headers.location
      if loc:sub(1, 1) == "/" then loc = reg.url .. loc end
      resp = assert(c:request({ url = loc .. (loc:find("?", 1, true) and "&" or "?") .. "digest=" .. digest,
        method = "PUT", body = data:sub(5001) }))
      assert.equal(201, resp.status)
      assert.equal(digest, resp.headers["docker-content-digest"])
      resp = assert(c:request({ url = reg.url .. "/v2/spec/up/blobs/" .. digest, digest = "sha256" }))
      assert.equal(data, resp.body)
      resp = assert(c:request({ url = reg.url .. "/v2/spec/up/blobs/" .. digest, method = "DELETE" }))
      assert.equal(202, resp.status)
      resp = assert(c:request({ url = reg.url .. "/v2/spec/up/blobs/" .. digest, method = "HEAD" }))
      assert.equal(404, resp.status)
    end)

    it("keeps one connection over many requests", function()
      local c <close> = http.client()
      local connects = 0
      for i = 1, 60 do
        local resp = assert(c:request({ url = reg.url .. "/v2/spec/img/manifests/small",
          method = i % 3 == 0 and "HEAD" or "GET", headers = { Accept = MANIFEST } }))
        assert.equal(200, resp.status)
        connects = connects + resp.connects
      end
      assert.equal(1, connects)
    end)

    it("holds only close-on-exec fds: its connection and curl's own", function()
      local before = {}
      for _, fd in ipairs(ns.listdir("/proc/self/fd")) do before[fd] = true end
      local c <close> = http.client()
      assert.equal(200, assert(c:request({ url = reg.url .. "/v2/" })).status)
      local new = 0
      for _, fd in ipairs(ns.listdir("/proc/self/fd")) do
        local f = not before[fd] and io.open("/proc/self/fdinfo/" .. fd)
        if f then
          local flags = tonumber(f:read("a"):match("flags:%s*(%d+)"), 8)
          f:close()
          new = new + 1
          assert.is_true(flags & tonumber("2000000", 8) ~= 0, "fd " .. fd .. " is not close-on-exec")
        end
      end
      -- the connection, and the socketpair of curl's inner multi handle
      assert.is_true(new >= 1)
    end)

    it("GET an image index that skopeo pushed with --all, and its platforms' manifests", function()
      local c <close> = http.client()
      local other = oci.host_arch() == "arm64" and "amd64" or "arm64"
      local ix = oci.index(dir .. "/layout", { { layers = { dir .. "/small" } },
        { layers = { dir .. "/small" }, architecture = other } }, "multi")
      reg:push(dir .. "/layout", "multi", "spec/img:multi")
      local resp = assert(c:request({ url = reg.url .. "/v2/spec/img/manifests/multi",
        headers = { Accept = oci.INDEX .. ", " .. MANIFEST } }))
      assert.equal(200, resp.status)
      assert.equal(oci.INDEX, resp.headers["content-type"])
      assert.equal(ix.index_digest, resp.headers["docker-content-digest"])
      local index = require("cjson").decode(resp.body)
      assert.equal(2, #index.manifests)
      for i, m in ipairs(index.manifests) do
        assert.equal(ix.images[i].manifest_digest, m.digest)
        assert.equal(ix.images[i].platform.architecture, m.platform.architecture)
        local one = assert(c:request({ url = reg.url .. "/v2/spec/img/manifests/" .. m.digest,
          headers = { Accept = MANIFEST }, digest = "sha256" }))
        assert.equal(200, one.status)
        assert.equal(m.digest, "sha256:" .. one.digest)
      end
    end)

    it("gives up after the client's timeout", function()
      local c <close> = http.client({ timeout = 0.3 })
      local resp, msg, code = c:request({ url = blob_url(big.layers[1].digest),
        progress = function() ns.sleep(0.2) end })
      assert.is_nil(resp)
      assert.equal(28, code)
      assert.matches("%(curl error 28%)$", msg)
    end)
  end)

  describe("against a registry with basic auth", function()
    local reg

    setup(function() reg = start({ auth = { user = "spec", password = "s3cret" } }) end)
    teardown(function() if reg then reg:stop() end end)

    it("401 with a Basic challenge; 200 with the user's credentials", function()
      local c <close> = http.client()
      local resp = assert(c:request({ url = reg.url .. "/v2/" }))
      assert.equal(401, resp.status)
      assert.equal('Basic realm="luactr-spec"', resp.headers["www-authenticate"])
      assert.matches("UNAUTHORIZED", resp.body)
      resp = assert(c:request({ url = reg.url .. "/v2/",
        headers = { Authorization = "Basic " .. base64("spec:s3cret") } }))
      assert.equal(200, resp.status)
      resp = assert(c:request({ url = reg.url .. "/v2/",
        headers = { Authorization = "Basic " .. base64("spec:wrong") } }))
      assert.equal(401, resp.status)
      -- an empty value is sent as an empty header: no credentials at all
      resp = assert(c:request({ url = reg.url .. "/v2/", headers = { Authorization = "" } }))
      assert.equal(401, resp.status)
    end)
  end)

  it("leaves no registry process and no registry dir behind", function()
    assert.is_true(#started >= 2)
    for _, r in ipairs(started) do
      local ok, _, err = ns.kill(r.pid, 0)
      assert.is_nil(ok)
      assert.equal(ns.E.ESRCH, err)
      assert.is_nil(ns.stat(r.dir))
    end
    for _, pid in ipairs(ns.listdir("/proc")) do
      local f = pid:match("^%d+$") and io.open("/proc/" .. pid .. "/cmdline")
      if f then
        local cmd = f:read("a")
        f:close()
        for _, r in ipairs(started) do assert.is_nil(cmd:find(r.dir, 1, true), "still running: " .. cmd) end
      end
    end
  end)
end)
