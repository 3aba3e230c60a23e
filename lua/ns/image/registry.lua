--- ns.image.registry: pull an image with the OCI distribution API (v2)
-- over ns.http (libcurl): the /v2/ ping, HTTP basic or bearer-token auth
-- from the WWW-Authenticate challenge with the credentials of
-- containers-auth.json (REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/
-- auth.json, ~/.docker/config.json), manifests by tag or digest (an index
-- or manifest list picks the host's platform), then the config and each
-- layer the store does not have, checked against their digests as they
-- unpack. Plain HTTP only for loopback registries and those named in
-- opts.insecure.
local ns = require "ns.core"
local ref = require "ns.image.ref"
local store = require "ns.image.store"
local oci = require "ns.image.oci"

local M = {}

local fmt, concat = string.format, table.concat

local function fail(msg) error(msg, 0) end

-- Docker Hub's API host.
local function api_host(registry)
  if registry == "docker.io" then return "registry-1.docker.io" end
  return registry
end

--- challenge(header) -> scheme ("bearer", "basic"), params: a
-- WWW-Authenticate value as RFC 7235 writes it (one challenge).
function M.challenge(h)
  if type(h) ~= "string" then return nil end
  local scheme, rest = h:match("^%s*(%S+)%s*(.*)$")
  if not scheme then return nil end
  local params = {}
  local i = 1
  while i <= #rest do
    local k, j = rest:match("^[%s,]*([%w_%-]+)%s*=%s*()", i)
    if not k then break end
    local v
    if rest:sub(j, j) == '"' then
      local buf, p = {}, j + 1
      while p <= #rest do
        local ch = rest:sub(p, p)
        if ch == "\\" then buf[#buf + 1] = rest:sub(p + 1, p + 1); p = p + 2
        elseif ch == '"' then p = p + 1; break
        else buf[#buf + 1] = ch; p = p + 1 end
      end
      v, i = concat(buf), p
    else
      v = rest:match("^[^,%s]*", j)
      i = j + #v
    end
    params[k:lower()] = v
  end
  return scheme:lower(), params
end

local function read_json_file(path)
  local data = path and ns.readfile(path)
  if not data then return nil end
  return store.json_object(data)
end

--- auth_files() -> the credential files in the order they are read.
function M.auth_files()
  local out = {}
  local env = os.getenv("REGISTRY_AUTH_FILE")
  if env and env ~= "" then out[#out + 1] = env end
  local xdg = os.getenv("XDG_RUNTIME_DIR")
  if xdg and xdg ~= "" then out[#out + 1] = xdg .. "/containers/auth.json" end
  if select(2, ns.getuid()) == 0 then out[#out + 1] = "/run/containers/0/auth.json" end
  local home = os.getenv("HOME")
  if home and home ~= "" then out[#out + 1] = home .. "/.docker/config.json" end
  return out
end

--- credentials(registry, repository) -> user, password, file: the most
-- specific entry of the first file that has one (host/repo, then host;
-- Docker Hub also under its old index names).
function M.credentials(registry, repository)
  local keys = {}
  local parts = {}
  for p in repository:gmatch("[^/]+") do parts[#parts + 1] = p end
  for n = #parts, 1, -1 do keys[#keys + 1] = registry .. "/" .. concat(parts, "/", 1, n) end
  keys[#keys + 1] = registry
  if registry == "docker.io" then
    for _, k in ipairs({ "index.docker.io", "registry-1.docker.io", "https://index.docker.io/v1/" }) do keys[#keys + 1] = k end
  end
  for _, file in ipairs(M.auth_files()) do
    local t = read_json_file(file)
    local auths = t and type(t.auths) == "table" and t.auths
    if auths then
      for _, k in ipairs(keys) do
        local e = auths[k] or auths["https://" .. k] or auths["http://" .. k]
        if type(e) == "table" and type(e.auth) == "string" then
          local dec = require("ns.digest").base64_decode(e.auth)
          local u, p
          if dec then u, p = dec:match("^([^:]*):(.*)$") end
          if u then return u, p, file end
        end
      end
    end
  end
end

local Client = {}
Client.__index = Client

local function parse_creds(s)
  local u, p = s:match("^([^:]*):(.*)$")
  if not u then fail("credentials must be USER:PASSWORD") end
  return u, p
end

-- The registry's complaint from an error body, or "".
local function reason(body)
  local t = store.json_object(body)
  if t and type(t.errors) == "table" and type(t.errors[1]) == "table" then
    local e = t.errors[1]
    return fmt(" (%s: %s)", tostring(e.code), tostring(e.message))
  end
  return ""
end

--- client(r, opts) -> a client of the registry of reference r.
function M.client(r, opts)
  local H = require "ns.http"
  local c = setmetatable({ r = r, host = api_host(r.registry), opts = opts, what = "pull " .. r.key }, Client)
  c.http = H.client({ connect_timeout = 10 })
  local insecure = ref.is_loopback(r.registry)
  for _, n in ipairs(opts.insecure or {}) do if n == r.registry or n == c.host then insecure = true end end
  c.insecure = insecure
  if opts.creds then c.user, c.password = parse_creds(opts.creds)
  else c.user, c.password = M.credentials(r.registry, r.repository) end
  return c
end

function Client:url(path) return fmt("%s://%s%s", self.scheme, self.host, path) end

-- One request with the auth header; a 401 gets one new token and a retry.
function Client:request(t, retried)
  t.headers = t.headers or {}
  if self.auth then t.headers["Authorization"] = self.auth end
  local resp, msg = self.http:request(t)
  if not resp then fail(fmt("%s: %s", self.what, msg)) end
  if resp.status == 401 and not retried then
    self:authenticate(resp)
    if t.out and type(t.out) == "string" then ns.unlink(t.out) end
    return self:request(t, true)
  end
  return resp
end

-- curl's codes for a TLS handshake or certificate that failed.
local TLS_ERRORS = { [35] = true, [51] = true, [53] = true, [54] = true, [58] = true, [59] = true, [60] = true,
  [64] = true, [66] = true, [77] = true, [80] = true, [82] = true, [83] = true, [90] = true, [91] = true }

-- Find the scheme (https, or http where allowed) and what auth /v2/ asks for.
function Client:ping()
  local schemes = self.insecure and { "https", "http" } or { "https" }
  local last, code
  for _, scheme in ipairs(schemes) do
    self.scheme = scheme
    local resp, msg, c = self.http:request({ url = self:url("/v2/"), insecure = self.insecure })
    if resp then
      if resp.status == 401 then self:authenticate(resp) return end
      if resp.status == 200 then return end
      fail(fmt("%s: GET %s: HTTP %d%s", self.what, self:url("/v2/"), resp.status, reason(resp.body)))
    end
    last, code = msg, c
  end
  -- A TLS failure (curl's SSL and certificate errors) may be a registry
  -- that speaks plain HTTP: say when luactr would not try that.
  fail(fmt("%s: %s%s", self.what, last, (not self.insecure and TLS_ERRORS[code])
    and " (plain HTTP is used only for loopback registries and those given with --insecure)" or ""))
end

function Client:authenticate(resp)
  local scheme, p = M.challenge(resp.headers["www-authenticate"])
  local D = require "ns.digest"
  if scheme == "basic" then
    if not self.user then
      fail(fmt("%s: %s asks for a user name and password (HTTP basic); none found in %s", self.what, self.host,
        concat(M.auth_files(), ", ")))
    end
    self.auth = "Basic " .. D.base64_encode(self.user .. ":" .. self.password)
    return
  end
  if scheme ~= "bearer" or not p.realm then
    fail(fmt("%s: %s answered 401 with an unknown challenge %q", self.what, self.host, tostring(resp.headers["www-authenticate"])))
  end
  local q = {}
  if p.service then q[#q + 1] = "service=" .. M.escape(p.service) end
  q[#q + 1] = "scope=" .. M.escape(p.scope or fmt("repository:%s:pull", self.r.repository))
  local url = p.realm .. (p.realm:find("?", 1, true) and "&" or "?") .. concat(q, "&")
  local headers = {}
  if self.user then headers["Authorization"] = "Basic " .. D.base64_encode(self.user .. ":" .. self.password) end
  local tr, msg = self.http:request({ url = url, headers = headers, insecure = self.insecure })
  if not tr then fail(fmt("%s: token from %s: %s", self.what, p.realm, msg)) end
  if tr.status ~= 200 then
    fail(fmt("%s: token from %s: HTTP %d%s%s", self.what, p.realm, tr.status, reason(tr.body),
      self.user and "" or " (no credentials found)"))
  end
  local t = store.json_object(tr.body)
  local token = t and (t.token or t.access_token)
  if type(token) ~= "string" then fail(fmt("%s: token from %s: no token in the answer", self.what, p.realm)) end
  self.auth = "Bearer " .. token
end

function M.escape(s)
  return (s:gsub("[^%w%-%._~]", function(ch) return fmt("%%%02X", ch:byte()) end))
end

-- GET a manifest (by tag or digest): body, media type, digest.
function Client:manifest(reference)
  local url = self:url(fmt("/v2/%s/manifests/%s", self.r.repository, reference))
  local resp = self:request({ url = url, headers = { Accept = oci.ACCEPT }, insecure = self.insecure, max = 4 << 20 })
  if resp.status ~= 200 then
    fail(fmt("%s: manifest %s: HTTP %d%s", self.what, reference, resp.status, reason(resp.body)))
  end
  local digest = "sha256:" .. require("ns.digest").string(resp.body)
  if reference:match("^sha256:") and digest ~= reference then
    fail(fmt("%s: manifest %s: digest mismatch: the registry sent %s", self.what, reference, digest))
  end
  local m = store.json_decode(resp.body, fmt("%s: manifest %s", self.what, reference))
  local mt = m.mediaType or (resp.headers["content-type"] or ""):match("^[^;%s]+")
  return resp.body, m, mt, digest
end

-- GET a blob into memory (a config), checked.
function Client:small_blob(desc, kind)
  local url = self:url(fmt("/v2/%s/blobs/%s", self.r.repository, desc.digest))
  local resp = self:request({ url = url, insecure = self.insecure, max = 16 << 20 })
  if resp.status ~= 200 then fail(fmt("%s: %s %s: HTTP %d%s", self.what, kind, desc.digest, resp.status, reason(resp.body))) end
  local got = "sha256:" .. require("ns.digest").string(resp.body)
  if got ~= desc.digest then fail(fmt("%s: %s %s: digest mismatch: the registry sent %s", self.what, kind, desc.digest, got)) end
  return resp.body
end

-- GET a layer blob into the file path (in the store's tmp/).
function Client:blob_to(desc, path, progress)
  local url = self:url(fmt("/v2/%s/blobs/%s", self.r.repository, desc.digest))
  local resp = self:request({ url = url, out = path, insecure = self.insecure, progress = progress })
  if resp.status ~= 200 then
    fail(fmt("%s: layer %s: HTTP %d", self.what, desc.digest, resp.status))
  end
  if resp.bytes ~= desc.size then
    fail(fmt("%s: layer %s: %d bytes, but its descriptor says %d (truncated?)", self.what, desc.digest, resp.bytes, desc.size))
  end
end

-- The progress line on a terminal: layers done/total, bytes, rate.
local function progress_line(what, n)
  if not ns.isatty(2) then return nil end
  local t0, done, bytes, last = ns.clock(), 0, 0, 0
  local p = {}
  function p.layer_done(size) done, bytes = done + 1, bytes + size; p.show(0, true) end
  function p.show(cur, force)
    local now = ns.clock()
    if not force and now - last < 0.1 then return end
    last = now
    local total = bytes + cur
    local rate = total / math.max(now - t0, 1e-3)
    io.stderr:write(fmt("\r%s: layers %d/%d, %.1f MB, %.1f MB/s   ", what, done, n, total / 1e6, rate / 1e6))
  end
  function p.finish() io.stderr:write("\n") end
  return p
end

--- pull(reference[, opts]) -> the key the image is filed under. opts:
-- insecure (registry names allowed over plain HTTP), creds ("USER:PASS"),
-- quiet (no progress line), root (the image root).
function M.pull(reference, opts)
  opts = opts or {}
  local r = ref.parse(reference)
  local s = store.open(opts.root)
  local c = M.client(r, opts)
  c:ping()
  local gc <close> = s:lock("gc", "sh")
  local mdata, m, mt, mdigest = c:manifest(r.digest or r.tag)
  if oci.INDEXES[mt] then
    local d = oci.choose(m, c.what)
    mdata, m, mt, mdigest = c:manifest(d.digest)
  end
  if not oci.MANIFESTS[mt] then fail(fmt("%s: manifest media type %s is not supported", c.what, tostring(mt))) end
  local parts = oci.check_manifest(m, c.what .. ": manifest " .. mdigest)
  local cdata = c:small_blob(parts.config, "config")
  local cfg = store.json_decode(cdata, c.what .. ": config " .. parts.config.digest)
  local diff_ids = oci.check_config(cfg, #parts.layers, c.what .. ": config " .. parts.config.digest)
  local images = s:images()
  local t = { manifest = mdigest, config = parts.config.digest, blobs = {}, layers = {}, sizes = {},
    created = type(cfg.created) == "string" and cfg.created or nil }
  local bar = not opts.quiet and progress_line(c.what, #parts.layers)
  for i, l in ipairs(parts.layers) do
    t.blobs[i], t.layers[i] = l.digest, diff_ids[i]
    if s:has_layer(diff_ids[i]) then
      t.sizes[i] = require("ns.image").known_size(images, diff_ids[i]) or 0
    else
      local path, dir = s:tempfile("pull")
      local ok, err = pcall(function()
        c:blob_to(l, path, bar and function(now) bar.show(now) end or nil)
        local _, res = s:add_layer(path, l, diff_ids[i])
        t.sizes[i] = res and res.size or 0
        -- unpack checked the digest as it streamed: the file is the blob.
        s:rename_into(path, s:blob_path(l.digest))
      end)
      store.remove(dir)
      if not ok then
        if bar then bar.finish() end
        fail(err)
      end
    end
    if bar then bar.layer_done(l.size) end
  end
  if bar then bar.finish() end
  s:put_blob(cdata)
  s:put_blob(mdata)
  require("ns.image").tag(s, r.key, t)
  return r.key
end

return M
