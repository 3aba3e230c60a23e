--- podman.lua: Debian's podman with everything of its own in a directory
-- of the caller's (vfs storage, the cgroupfs manager, no network, file
-- events), for the specs and the bench:
--
--   local env = podman.start(dir)   -- writes the configs, imports IMAGE
--   env.run(runtime, args)          -- output, exit status
--   env.stop()                      -- containers, images, what podman
--                                   -- left in /run and the cgroup tree
--
-- The busybox tree becomes the image with `podman import`. podman asks
-- for RLIMIT_NOFILE 1048576 by default, above this host's hard limit:
-- without CAP_SYS_RESOURCE runc fails on it as luactr-oci does, so the
-- config asks for 1024.
local H = require "support.helper"
local ns = H.ns

local M = {}

local fmt = string.format
local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

M.IMAGE = "localhost/luactr-spec-busybox:1"

-- What podman (with conmon under the cgroupfs manager) and the runtimes'
-- default state roots leave; removed at stop when the run made them.
local RUN_DIRS = { "/run/luactr-oci", "/run/runc", "/run/containers/networks", "/run/containers" }

function M.start(dir)
  local had_run, had_cg = {}, {}
  for _, d in ipairs(RUN_DIRS) do had_run[d] = ns.stat(d) ~= nil end
  for _, h in ipairs(ns.listdir("/sys/fs/cgroup") or {}) do
    had_cg[h] = ns.stat("/sys/fs/cgroup/" .. h .. "/libpod_parent") ~= nil
  end
  assert(ns.writefile(dir .. "/storage.conf",
    fmt('[storage]\ndriver = "vfs"\nrunroot = "%s/run"\ngraphroot = "%s/graph"\n', dir, dir), { create = true }))
  assert(ns.writefile(dir .. "/containers.conf", table.concat({
    "[containers]", 'netns = "none"', 'default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]',
    "[engine]", 'cgroup_manager = "cgroupfs"', 'events_logger = "file"',
    fmt('events_logfile_path = "%s/events.log"', dir), fmt('tmp_dir = "%s/tmp"', dir),
    fmt('static_dir = "%s/static"', dir), fmt('volume_path = "%s/volumes"', dir),
    "[network]", fmt('network_config_dir = "%s/net"', dir), "" }, "\n"), { create = true }))
  local base = fmt("CONTAINERS_STORAGE_CONF=%s CONTAINERS_CONF=%s podman --root %s --runroot %s "
    .. "--cgroup-manager cgroupfs --events-backend file", q(dir .. "/storage.conf"), q(dir .. "/containers.conf"),
    q(dir .. "/graph"), q(dir .. "/run"))
  local src = require("ns.rootfs").busybox()
  local out, code = H.sh(fmt("tar -C \"$(readlink -f %s)\" -cf - . | %s import - %s 2>&1", q(src), base, M.IMAGE))
  assert(code == 0, "podman import: " .. out)
  local env = { base = base, dir = dir }
  function env.run(runtime, args)
    return H.sh(fmt("%s --runtime %s %s 2>&1 </dev/null", base, q(runtime), args))
  end
  function env.stop(runtimes)
    for _, rt in ipairs(runtimes or {}) do env.run(rt, "rm -af -t 0") end
    H.sh(base .. " rmi -af >/dev/null 2>&1")
    for h, had in pairs(had_cg) do
      if not had then
        local p = "/sys/fs/cgroup/" .. h .. "/libpod_parent"
        if ns.stat(p .. "/conmon") then ns.rmdir(p .. "/conmon") end
        if ns.stat(p) then ns.rmdir(p) end
      end
    end
    for _, d in ipairs(RUN_DIRS) do
      if not had_run[d] and ns.stat(d) then ns.rmdir(d) end
    end
  end
  return env
end

return M
