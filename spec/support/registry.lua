--- registry.lua: a real OCI distribution registry for the specs, Debian's
-- docker-registry (distribution 2.8) on 127.0.0.1, no TLS, storing into a
-- temp dir of its own; never the system's service of it.
--
--   local registry = require "support.registry"
--   local r = registry.start({ auth = { user = "u", password = "p" } })
--   r:push(layout_dir, "latest", "spec/img:1")   -- skopeo, from an OCI layout
--   ... r.host ("127.0.0.1:PORT"), r.port, r.url, r.dir ...
--   r:stop()                                     -- idempotent
--
-- The registry is a child of the spec's process (ns.clone, then exec), with
-- its output in r.dir/registry.log and SIGTERM as its parent-death signal,
-- so that even a killed busted leaves no registry behind.
local H = require "support.helper"
local http = require "ns.http"
local oci = require "support.oci"
local ns = H.ns

local M = {}
local Registry = {}
Registry.__index = Registry

local shquote = oci.shquote

-- The local ports of every TCP socket (any state), from /proc/net/tcp{,6}.
local function ports_in_use()
  local used = {}
  for _, file in ipairs({ "/proc/net/tcp", "/proc/net/tcp6" }) do
    local f = io.open(file)
    if f then
      for line in f:lines() do
        local port = line:match("^%s*%d+:%s+%x+:(%x+)")
        if port then used[tonumber(port, 16)] = true end
      end
      f:close()
    end
  end
  return used
end

-- Whether process pid holds the socket that listens on 127.0.0.1:port
-- (another registry answering there would pass an HTTP check).
local function listens(pid, port)
  local inode
  local f = io.open("/proc/net/tcp")
  if not f then return false end
  for line in f:lines() do
    local p, st, ino = line:match("^%s*%d+:%s+0100007F:(%x+)%s+%x+:%x+%s+(%x+)%s+%S+%s+%S+%s+%S+%s+%d+%s+%d+%s+(%d+)")
    if p and tonumber(p, 16) == port and st == "0A" then inode = ino end
  end
  f:close()
  if not inode then return false end
  local want = "socket:[" .. inode .. "]"
  for _, fd in ipairs(ns.listdir("/proc/" .. pid .. "/fd") or {}) do
    if ns.readlink("/proc/" .. pid .. "/fd/" .. fd) == want then return true end
  end
  return false
end

-- A port nothing holds now, picked at random so that specs running at the
-- same time seldom race for one (start retries when they do).
local function free_port()
  local used = ports_in_use()
  for _ = 1, 100 do
    local p = math.random(20000, 59999)
    if not used[p] then return p end
  end
  error("registry: no free port in 20000-59999", 3)
end
--- registry.free_port() -> a TCP port of 127.0.0.1 that nothing holds now.
M.free_port = free_port

local function config_yml(dir, port, auth)
  local t = {
    "version: 0.1",
    "log:",
    "  level: warn",
    "  accesslog:",
    "    disabled: true",
    "storage:",
    "  filesystem:",
    "    rootdirectory: " .. dir .. "/storage",
    "  delete:",
    "    enabled: true",
    "http:",
    "  addr: 127.0.0.1:" .. port,
    "  secret: luactr-spec-secret",
  }
  if auth then
    t[#t + 1] = "auth:"
    t[#t + 1] = "  htpasswd:"
    t[#t + 1] = "    realm: luactr-spec"
    t[#t + 1] = "    path: " .. dir .. "/htpasswd"
  end
  return table.concat(t, "\n") .. "\n"
end

local function readfile(path)
  local f = io.open(path)
  if not f then return "" end
  local s = f:read("a")
  f:close()
  return s
end

-- Start docker-registry on config, its output to log; pid, pidfd.
local function spawn(config, log)
  local pid, pidfd = assert(ns.clone({}))
  if pid == 0 then
    local ok, err = pcall(function()
      assert(ns.prctl("pdeathsig", "TERM"))
      local out = assert(ns.open(log, { "wronly", "creat", "trunc" }, "0644"))
      local null = assert(ns.open("/dev/null", "rdonly"))
      assert(ns.dup2(null, 0))
      assert(ns.dup2(out, 1))
      assert(ns.dup2(out, 2))
      assert(ns.exec("docker-registry", { "docker-registry", "serve", config }))
    end)
    io.stderr:write("registry child: ", tostring(err or ok), "\n")
    ns._exit(127)
  end
  return pid, pidfd
end

-- Stop the process of self (TERM, then KILL after grace seconds) and reap it.
function Registry:kill(grace)
  if not self.pidfd then return end
  ns.kill(self.pidfd, "TERM")
  local deadline = ns.clock() + (grace or 5)
  while true do
    local st = ns.wait(self.pidfd, "nohang")
    if st then break end
    if ns.clock() > deadline then
      ns.kill(self.pidfd, "KILL")
      assert(ns.wait(self.pidfd))
      break
    end
    ns.sleep(0.02)
  end
  self.pidfd:close()
  self.pidfd = nil
end

--- r:stop(): the registry ends, its temp dir goes. Idempotent.
function Registry:stop()
  self:kill()
  if self.dir then
    H.rmrf(self.dir)
    self.dir = nil
  end
end
Registry.__close = Registry.stop

--- r:log() -> what the registry wrote so far.
function Registry:log()
  return self.dir and readfile(self.dir .. "/registry.log") or ""
end

-- Wait until the registry answers GET /v2/ (200, or 401 with auth);
-- true, or false and why not ("port" when the port was taken).
function Registry:wait_ready(seconds)
  local c <close> = http.client({ connect_timeout = 1, timeout = 2 })
  local deadline = ns.clock() + seconds
  while ns.clock() < deadline do
    local st = ns.wait(self.pidfd, "nohang")
    if st then
      self.pidfd:close()
      self.pidfd = nil
      local log = self:log()
      if log:find("address already in use", 1, true) then return false, "port" end
      return false, ("docker-registry ended (status %s) before it answered:\n%s"):format(st.status, log)
    end
    if listens(self.pid, self.port) then
      local resp = c:request({ url = self.url .. "/v2/" })
      if resp and (resp.status == 200 or (self.auth and resp.status == 401)) then return true end
    end
    ns.sleep(0.05)
  end
  return false, ("docker-registry did not answer on %s within %ss:\n%s"):format(self.host, seconds, self:log())
end

--- registry.start([{auth = {user, password}}]) -> r, once it answers.
function M.start(opts)
  opts = opts or {}
  for k in pairs(opts) do
    if k ~= "auth" then error("registry.start: unknown option '" .. tostring(k) .. "'", 2) end
  end
  if select(2, H.sh("command -v docker-registry >/dev/null && command -v skopeo >/dev/null")) ~= 0 then
    error("docker-registry or skopeo is not installed (make deps-test installs them)", 2)
  end
  local auth = opts.auth
  local dir = H.tmpdir("registry")
  local self = setmetatable({ dir = dir, auth = auth }, Registry)
  local ok, err = pcall(function()
    if auth then
      local out, code = H.sh(("htpasswd -Bbn %s %s 2>&1"):format(shquote(auth.user), shquote(auth.password)))
      if code ~= 0 then error("htpasswd: " .. out) end
      assert(ns.writefile(dir .. "/htpasswd", out, { create = true, mode = "0600" }))
    end
    for _ = 1, 5 do
      self.port = free_port()
      self.host = "127.0.0.1:" .. self.port
      self.url = "http://" .. self.host
      local config = dir .. "/config.yml"
      assert(ns.writefile(config, config_yml(dir, self.port, auth), { create = true, mode = "0644" }))
      self.pid, self.pidfd = spawn(config, dir .. "/registry.log")
      local ready, why = self:wait_ready(15)
      if ready then return end
      if why ~= "port" then error(why, 0) end
      os.remove(config)
    end
    error("docker-registry: every port tried was taken", 0)
  end)
  if not ok then
    self:stop()
    error("registry.start: " .. tostring(err), 2)
  end
  return self
end

--- r:push(layout, tag, name [, creds]): skopeo copies the image (or image
-- index: --all) tagged tag in the OCI layout to name ("repo:tag") in this
-- registry, digests kept. creds "user:password" defaults to the
-- registry's own user; false pushes without any. Raises with skopeo's
-- output when it fails.
function Registry:push(layout, tag, name, creds)
  if creds == nil and self.auth then creds = self.auth.user .. ":" .. self.auth.password end
  local cmd = ("skopeo --insecure-policy copy -q --all --preserve-digests --dest-tls-verify=false %s oci:%s:%s docker://%s/%s 2>&1")
    :format(creds and "--dest-creds " .. shquote(creds) or "", shquote(layout), shquote(tag), self.host, shquote(name))
  local out, code = H.sh(cmd)
  if code ~= 0 then error(("registry push %s:%s -> %s: skopeo failed (%s):\n%s"):format(layout, tag, name, code, out), 2) end
end

return M
