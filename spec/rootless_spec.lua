-- rootless_spec.lua: luactr as an unprivileged user (uid 1000, through
-- setpriv), with subordinate ids in /etc/subuid and /etc/subgid (added
-- by the spec, and put back as they were after): root inside is the
-- user, 1..65536 inside are the subordinate range, written by newuidmap
-- and newgidmap, so chown inside works; without ranges, the one-id map
-- and its note.
local H = require "support.helper"
local ns = H.ns
local cjson = require "cjson"

local fmt = string.format
local START = 300000

local function with_ranges() H.with_subids(1000, START) end

describe("luactr rootless, with subordinate ids", function()
  H.guard()

  local state, recipe
  before_each(function()
    state = H.tmpdir("rootless-state")
    assert(ns.chown(state, 1000, 1000))
    local dir = H.tmpdir("rootless-recipe")
    assert(ns.chmod(dir, tonumber("755", 8)))
    recipe = dir .. "/r.lua"
    assert(ns.writefile(recipe, [[
      return { user = true, args = { "/bin/sh", "-c",
        "cat /proc/self/uid_map /proc/self/gid_map; touch /dev/f && chown 5:6 /dev/f && ls -ln /dev/f; sleep 1000" } }
    ]], { create = true }))
    assert(ns.chmod(recipe, tonumber("644", 8)))
    H.defer(function() H.rmrf(state); H.rmrf(dir) end)
  end)

  local function rl(args)
    return H.run_luactr(args, { env = "setpriv --reuid=1000 --regid=1000 --clear-groups env LUACTR_STATE=" .. state })
  end

  it("maps 0 to the user and 1..65536 to its subordinate range; chown inside works", function()
    assert.is_truthy(ns.stat("/usr/bin/newuidmap"), "uidmap is one of make test's packages")
    with_ranges()
    local out, code = rl("run -d --name sub " .. recipe)
    assert.are.equal(0, code, out)
    H.defer(function() rl("rm -f sub") end)
    local pid = cjson.decode((rl("inspect sub")))[1].pid
    -- Outside, the container's process is the user's.
    assert.matches("\nUid:%s+1000%s+1000", ns.readfile(("/proc/%d/status"):format(pid)))
    -- chown 5:6 inside is START+4:START+5 outside.
    local st
    for _ = 1, 100 do
      st = ns.stat(("/proc/%d/root/dev/f"):format(pid))
      if st and st.uid ~= 1000 then break end
      ns.sleep(0.02)
    end
    assert.are.same({ START + 4, START + 5 }, { st.uid, st.gid })
    local log = rl("logs sub")
    local maps = fmt("^%%s*0%%s+1000%%s+1\n%%s*1%%s+%d%%s+65536\n%%s*0%%s+1000%%s+1\n%%s*1%%s+%d%%s+65536\n", START, START)
    assert.matches(maps, log)
    assert.matches("\n%-rw%-r%-%-r%-%-%s+1 5%s+6 ", log)
    -- exec joins it with the same maps.
    assert.matches(fmt("1%%s+%d%%s+65536", START), (rl("exec sub cat /proc/self/uid_map")))
    local plan = rl("--plan run " .. recipe)
    assert.matches("uid_map %(newuidmap%)", plan)
    assert.is_nil(plan:find("setgroups deny", 1, true))
  end)

  it("luactr run IMAGE as the user: an image store of its own, root inside, the user outside", function()
    local home = H.tmpdir("rootless-home")
    H.defer(function() H.rmrf(home) end)
    assert(ns.chown(home, 1000, 1000))
    local env = fmt("setpriv --reuid=1000 --regid=1000 --clear-groups env HOME=%s LUACTR_STATE=%s", home, state)
    local function as_user(args)
      local out, code = H.run_luactr(args, { env = env })
      assert(code == 0, args .. ": exit " .. tostring(code) .. ": " .. out)
      return out
    end
    assert.are.equal("uid=0(root) gid=0(root)\n", as_user("run --rm busybox id"))
    -- The store is the user's, under its home, and its files are the user's.
    local layer = ns.readlink(home .. "/.local/share/luactr/images/busybox/rootfs")
    assert.is_truthy(layer, "no busybox image in the user's store")
    local st = ns.stat(home .. "/.local/share/luactr/images/busybox/rootfs/bin/busybox")
    assert.are.equal(1000, st.uid)
    as_user("run -d --name img busybox sleep 1000")
    H.defer(function() H.run_luactr("rm -f img", { env = env }) end)
    local pid = cjson.decode(as_user("inspect img"))[1].pid
    assert.matches("\nUid:%s+1000%s+1000", ns.readfile(("/proc/%d/status"):format(pid)))
    -- Root inside can write over the image's files (a copy-up of files it owns).
    assert.are.equal("changed\n", as_user("exec img sh -c 'echo changed > /etc/motd; cat /etc/motd'"))
    as_user("rm -f img")
  end)

  it("without ranges: the one-id map, and the plan says why", function()
    local plan = rl("--plan run " .. recipe)
    assert.matches("setgroups deny %(no subordinate ids for [^\n]* in /etc/subuid and /etc/subgid%)", plan)
    assert.matches('"ranges":%[%[0,1000,1%]%]', plan)
    local out, code = rl("run --rm -d --name one " .. recipe)
    assert.are.equal(0, code, out)
    H.defer(function() rl("rm -f one") end)
    assert.matches("^%s*0%s+1000%s+1\n$", (rl("exec one cat /proc/self/uid_map")))
    -- An id past the one mapped: the error says why.
    out, code = rl("run --rm -u nobody " .. recipe)
    assert.are.equal(125, code)
    assert.matches("setresgid 65534: Invalid argument %(EINVAL%): 65534 is not mapped by the user namespace", out)
  end)
end)
