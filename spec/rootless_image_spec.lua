-- rootless_image_spec.lua: images of an unprivileged user (uid 1000,
-- through setpriv) whose /etc/subuid and /etc/subgid ranges (added by the
-- spec, put back after) start at START: a layer's owners are kept,
-- shifted (uid N of the tar is START+N-1 on disk, 0 the user), by an
-- unpack in a user namespace with a rootless container's maps; whiteouts
-- are 0/0 character devices and opaque directories carry
-- user.overlay.opaque, which the rootless overlay reads (userxattr);
-- commit reads the upper layer in that namespace; image rm and rm -f
-- remove trees of subordinate ids from it. The layers are tars made here
-- with GNU tar (support.oci), never by luactr.
local H = require "support.helper"
local oci = require "support.oci"
local cjson = require "cjson"
local ns = H.ns

local fmt = string.format
local q = oci.shquote
local START = 300000
local IMG = "spec/ids:1"

-- Directory and file owners of the bottom layer: path -> {uid, gid}.
local OWNERS = {
  ["etc/by-root"] = { 0, 0 },
  ["etc/by-daemon"] = { 1, 1 },
  ["home/nobody"] = { 65534, 65534 },
  ["home/nobody/note"] = { 65534, 65534 },
}

-- A tree for a layer: files (path -> content, "<dir>" for a directory),
-- then owners (path -> {uid, gid}); its directory.
local function tree(files, owners)
  local d = H.tmpdir("ids-layer")
  assert(ns.chmod(d, "0755"))
  for path, content in pairs(files) do
    local dir = path:match("^(.*)/[^/]+$")
    if dir then assert(ns.mkdir(d .. "/" .. dir, "0755", true)) end
    if content == "<dir>" then assert(ns.mkdir(d .. "/" .. path, "0755", true))
    else assert(ns.writefile(d .. "/" .. path, content, { create = true, mode = "0644" })) end
  end
  for path, o in pairs(owners or {}) do assert(ns.chown(d .. "/" .. path, o[1], o[2])) end
  return d
end

describe("luactr rootless images, ids shifted into the subordinate range", function()
  local base, root, state, layout
  local temps = {}
  local function temp(d) temps[#temps + 1] = d return d end

  setup(function()
    -- busybox, plus files of root, daemon and nobody, /etc/gone (which the
    -- upper layer deletes) and /opt/data/{x,y} (which it makes opaque).
    base = H.tmpdir("ids-base")
    assert(ns.chmod(base, "0755"))
    require("ns.rootfs").build_busybox(base)
    assert(ns.mkdir(base .. "/home/nobody", "0700", true))
    assert(ns.mkdir(base .. "/opt/data", "0755", true))
    for path, text in pairs({ ["etc/by-root"] = "root\n", ["etc/by-daemon"] = "daemon\n", ["home/nobody/note"] = "n\n",
      ["etc/gone"] = "deleted above\n", ["opt/data/x"] = "x", ["opt/data/y"] = "y" }) do
      assert(ns.writefile(base .. "/" .. path, text, { create = true, mode = "0644" }))
    end
    for path, o in pairs(OWNERS) do assert(ns.chown(base .. "/" .. path, o[1], o[2])) end
  end)

  teardown(function() if base then H.rmrf(base) end end)

  before_each(function()
    root, state = H.tmpdir("ids-root"), H.tmpdir("ids-state")
    for _, d in ipairs({ root, state }) do assert(ns.chown(d, 1000, 1000)) end
  end)

  after_each(function()
    for _, d in ipairs(temps) do H.rmrf(d) end
    temps = {}
    H.rmrf(root)
    H.rmrf(state)
  end)
  -- after the clean-up above (busted runs after_each in order)
  H.guard()

  -- luactr as uid 1000 with this spec's store and state: output, status.
  local function rl(args)
    return H.run_luactr(args, { env = fmt("setpriv --reuid=1000 --regid=1000 --clear-groups env LUACTR_ROOT=%s "
      .. "LUACTR_STATE=%s", q(root), q(state)) })
  end
  local function ok_rl(args)
    local out, code = rl(args)
    assert(code == 0, args .. ": exit " .. tostring(code) .. ": " .. out)
    return out
  end

  -- The two-layer image in an OCI layout that uid 1000 can read: the base
  -- below a layer that whites out /etc/gone and makes /opt/data opaque
  -- with only new in it. extra: more files of the upper layer (and their
  -- owners).
  local function make_layout(extra, extra_owners)
    local files = { ["etc/.wh.gone"] = "", ["opt/data/.wh..wh..opq"] = "", ["opt/data/new"] = "new\n" }
    for k, v in pairs(extra or {}) do files[k] = v end
    local upper = temp(tree(files, extra_owners))
    layout = temp(H.tmpdir("ids-layout"))
    oci.layout(layout, { tag = "1", layers = { base, upper }, config = { Cmd = { "sh" } } })
    oci.run("chown -R 1000:1000 " .. q(layout))
    return layout
  end

  local function import()
    assert.are.equal("docker.io/" .. IMG .. "\n", ok_rl("image import " .. q(make_layout()) .. " " .. IMG))
  end

  -- The path rel in the store's layer that holds it as a type (any).
  local function layer_with(rel, type)
    for _, h in ipairs(ns.listdir(root .. "/store/layers") or {}) do
      local p = fmt("%s/store/layers/%s/%s", root, h, rel)
      local st = ns.stat(p, "nofollow")
      if st and (not type or st.type == type) then return p end
    end
  end

  -- Every path under dir (relative), sorted.
  local function walk(dir)
    return (oci.run("cd " .. q(dir) .. " && find . -mindepth 1 | sort"))
  end

  local function xattr(path, name)
    local out, code = H.sh(fmt("getfattr -h --only-values -n %s %s 2>/dev/null", name, q(path)))
    return code == 0 and out or nil
  end

  it("keeps a layer's owners, shifted on disk; a container sees them as in the tar, the whiteout and the opaque dir",
    function()
      H.with_subids(1000, START)
      import()
      -- On disk: uid N of the tar is START+N-1, root the user itself.
      for path, o in pairs(OWNERS) do
        local st = assert(ns.stat(assert(layer_with(path), path), "nofollow"))
        local function out(id) return id == 0 and 1000 or START + id - 1 end
        assert.are.same({ out(o[1]), out(o[2]) }, { st.uid, st.gid }, path)
      end
      local wh = assert(ns.stat(assert(layer_with("etc/gone", "chr")), "nofollow"))
      assert.are.same({ 0, 0 }, { wh.rdev_major, wh.rdev_minor })
      assert.are.equal("y", xattr(layer_with("opt/data/new"):match("^(.*)/new$"), "user.overlay.opaque"))
      assert.are.equal(0, #ns.listdir(root .. "/store/tmp"))
      -- Inside: the owners as the tar says; /etc/gone gone, /opt/data only new.
      local out = ok_rl("run --rm " .. IMG .. " sh -c " .. q("ls -lnd /etc/by-root /etc/by-daemon /home/nobody "
        .. "/home/nobody/note; test -e /etc/gone || echo gone-is-gone; ls /opt/data; id"))
      out = "\n" .. out
      assert.matches("\n[-%w]+%s+%d+ 0%s+0%s+%d+ [^\n]* /etc/by%-root\n", out)
      assert.matches("\n[-%w]+%s+%d+ 1%s+1%s+%d+ [^\n]* /etc/by%-daemon\n", out)
      assert.matches("\nd[-%w]+%s+%d+ 65534%s+65534%s+%d+ [^\n]* /home/nobody\n", out)
      assert.matches("\n[-%w]+%s+%d+ 65534%s+65534%s+%d+ [^\n]* /home/nobody/note\n", out)
      assert.matches("\ngone%-is%-gone\nnew\nuid=0%(root%) gid=0%(root%)", out)
      -- Root inside, uid 1000 outside; nobody reads its own 0700 home.
      ok_rl("run -d --name ids " .. IMG .. " sleep 1000")
      H.defer(function() rl("rm -f ids") end)
      local pid = cjson.decode(ok_rl("inspect ids"))[1].pid
      assert.matches("\nUid:%s+1000%s+1000", ns.readfile(("/proc/%d/status"):format(pid)))
      assert.are.equal("n\n", ok_rl("exec -u nobody ids cat /home/nobody/note"))
      ok_rl("rm -f ids")
    end)

  it("commit of a rootless container keeps owners, whiteouts and the opaque marker, without overlay xattrs", function()
    H.with_subids(1000, START)
    import()
    -- rm -r then mkdir makes /etc opaque in the upper layer (overlayfs
    -- writes user.overlay.opaque there, with userxattr).
    ok_rl("run --name c " .. IMG .. " sh -c " .. q("mkdir /made && chown 1:1 /made && echo f > /made/f && "
      .. "chown 65534:65534 /made/f && chmod 700 /made && rm /etc/by-root && rm -r /opt/data && mkdir /opt/data && "
      .. "echo fresh > /opt/data/fresh"))
    H.defer(function() rl("rm -f c") end)
    ok_rl("commit c spec/ids:2")
    local out = ok_rl("run --rm spec/ids:2 sh -c " .. q("ls -lnd /made /made/f; test -e /etc/by-root || "
      .. "echo by-root-is-gone; ls /opt/data; ls -ln /etc/by-daemon"))
    assert.matches("d[-%w]+%s+%d+ 1%s+1%s+%d+ [^\n]* /made\n", out)
    assert.matches("\n[-%w]+%s+%d+ 65534%s+65534%s+%d+ [^\n]* /made/f\n", out)
    assert.matches("\nby%-root%-is%-gone\nfresh\n[-%w]+%s+%d+ 1%s+1%s+", out)
    -- The new layer's tar: the OCI markers, the ids as inside, no overlay xattrs.
    local m = cjson.decode(ns.readfile(root .. "/store/blobs/sha256/" ..
      cjson.decode(ns.readfile(root .. "/store/images.json")).images["docker.io/spec/ids:2"].manifest:sub(8)))
    local blob = root .. "/store/blobs/sha256/" .. m.layers[#m.layers].digest:sub(8)
    local list = oci.run("tar --numeric-owner -tvzf " .. q(blob))
    assert.matches("opt/data/%.wh%.%.wh%.%.opq\n", list)
    assert.matches("etc/%.wh%.by%-root\n", list)
    assert.matches("\nd[-%w]+ 1/1 [^\n]* made/\n", list)
    assert.matches("\n[-%w]+ 65534/65534 [^\n]* made/f\n", list)
    assert.are.equal("0\n", oci.run("zcat " .. q(blob) .. " | grep -a -c overlay || true"))
    -- On disk, the committed layer is shifted as an imported one.
    assert.are.equal(START, ns.stat(layer_with("made")).uid)
    assert.are.equal("y", xattr(layer_with("opt/data/fresh"):match("^(.*)/fresh$"), "user.overlay.opaque"))
    -- its record and upper layer (/made: uid 1's, 0700) go with the user's rm
    ok_rl("rm c")
    assert.are.same({}, ns.listdir(state .. "/containers"))
  end)

  it("image rm and rm -f remove trees of subordinate ids: the user's own removal empties the store", function()
    H.with_subids(1000, START)
    import()
    local before = walk(root)
    assert.matches("store/layers/%x+/home/nobody/note\n", before)
    -- A container's upper layer with a 0700 directory of uid 5 (START+4).
    ok_rl("run -d --name r " .. IMG .. " sh -c " .. q("mkdir /x && echo f > /x/f && chown -R 5:5 /x && chmod 700 /x "
      .. "&& touch /ready && sleep 1000"))
    H.defer(function() rl("rm -f r") end)
    local id = cjson.decode(ok_rl("inspect r"))[1].id
    local upper = fmt("%s/containers/%s/fs/upper", state, id)
    for _ = 1, 250 do
      if ns.stat(upper .. "/ready") then break end
      ns.sleep(0.02)
    end
    assert.are.equal(START + 4, ns.stat(upper .. "/x").uid)
    -- the image is in use: rm is refused
    local out, code = rl("image rm " .. IMG)
    assert.are_not.equal(0, code, out)
    ok_rl("rm -f r")
    assert.are.same({}, ns.listdir(state .. "/containers"))
    -- --rm too
    ok_rl("run --rm " .. IMG .. " sh -c " .. q("mkdir /y && chown 7:7 /y && chmod 700 /y"))
    assert.are.same({}, ns.listdir(state .. "/containers"))
    ok_rl("image rm " .. IMG)
    assert.are.same({}, ns.listdir(root .. "/store/layers"))
    assert.are.same({}, ns.listdir(root .. "/store/tmp"))
    -- Nothing of a subordinate id is left anywhere under the store.
    assert.are.equal("", oci.run("find " .. q(root) .. " " .. q(state) .. " ! -uid 1000"))
    -- prune finds nothing more
    ok_rl("image prune")
    assert.are.same({}, ns.listdir(root .. "/store/blobs/sha256"))
  end)

  it("refuses a layer with an id past the range, naming the file and the id; nothing is left", function()
    H.with_subids(1000, START)
    local dir = make_layout({ ["opt/big"] = "big\n" }, { ["opt/big"] = { 70000, 0 } })
    local out, code = rl("image import " .. q(dir) .. " " .. IMG)
    assert.are_not.equal(0, code, out)
    assert.matches('entry "%./opt/big": uid 70000 is not mapped %(only uids 0%-65536 are', out)
    -- The bottom layer, filed before, stays for prune (as a failed pull's
    -- does); of the refused one nothing is left, in tmp/ or in layers/.
    assert.are.equal(1, #ns.listdir(root .. "/store/layers"))
    assert.is_nil(layer_with("opt/data/new"))
    assert.are.same({}, ns.listdir(root .. "/store/tmp"))
    ok_rl("image prune")
    assert.are.same({}, ns.listdir(root .. "/store/layers"))
    assert.are.equal("", oci.run("find " .. q(root) .. " ! -uid 1000"))
  end)

  it("says what newgidmap said when the maps cannot be written; nothing is left", function()
    H.with_subids(1000, START)
    local dir = make_layout()
    local bin = temp(H.tmpdir("ids-bin"))
    assert(ns.chmod(bin, "0755"))
    assert(ns.writefile(bin .. "/newgidmap", "#!/bin/sh\necho 'newgidmap: gid range [1-65537) -> [300000-365536) not allowed' >&2\nexit 1\n",
      { create = true, mode = "0755" }))
    local out, code = rl("-e " .. q(fmt("require('ns.recipe.user').MAP_HELPERS.gid = %q; "
      .. "require('ns.image').import(%q, %q)", bin .. "/newgidmap", dir, IMG)))
    assert.are_not.equal(0, code, out)
    assert.matches("layer sha256:%x+: the user namespace's maps: newgidmap %d+ 0 1000 1 1 300000 65536: "
      .. "newgidmap: gid range %[1%-65537%) %-> %[300000%-365536%) not allowed", out)
    assert.are.same({}, ns.listdir(root .. "/store/layers"))
    assert.are.same({}, ns.listdir(root .. "/store/tmp"))
  end)

  it("luactr's busybox image in a store with ranges: its files root's inside, the user's on disk", function()
    H.with_subids(1000, START)
    assert.are.equal("0 0\n", ok_rl("run --rm busybox stat -c '%u %g' /bin/busybox"))
    assert.are.equal(1000, ns.stat(assert(layer_with("bin/busybox"))).uid)
    -- its tar says 0, as the namespace sees the user's files
    local blobs = ns.listdir(root .. "/store/blobs/sha256")
    local listed = {}
    for _, b in ipairs(blobs) do
      local o, c = H.sh("tar --numeric-owner -tvf " .. q(root .. "/store/blobs/sha256/" .. b) .. " bin/busybox 2>/dev/null")
      if c == 0 then listed[#listed + 1] = o end
    end
    assert.are.equal(1, #listed)
    assert.matches(" 0/0 ", listed[1])
  end)

  it("without ranges: every file is the user's (root inside), opaque dirs and whiteouts still work", function()
    import()
    for path in pairs(OWNERS) do assert.are.equal(1000, ns.stat(layer_with(path), "nofollow").uid, path) end
    assert.are.equal("y", xattr(layer_with("opt/data/new"):match("^(.*)/new$"), "user.overlay.opaque"))
    local out = ok_rl("run --rm " .. IMG .. " sh -c " .. q("ls -ln /etc/by-daemon; test -e /etc/gone || echo gone; "
      .. "ls /opt/data"))
    assert.matches("^[-%w]+%s+%d+ 0%s+0%s+[^\n]*\ngone\nnew\n$", out)
    ok_rl("image rm " .. IMG)
    assert.are.same({}, ns.listdir(root .. "/store/layers"))
  end)
end)
