-- archive_spec.lua: ns.archive (core/archive.c): unpack of tars that GNU
-- tar, gzip and zstd make (every entry type, both digests against
-- sha256sum), whiteouts both ways, hostile archives refused with nothing
-- written outside dest, pack read back by GNU tar. Everything happens in a
-- /tmp/luactr-spec-archive-* directory that each spec removes; xattrs are
-- set and read with setfattr/getfattr (the attr package, `make deps-test`).
local H = require "support.helper"
local ns = require "ns"
local A = require "ns.archive"

local esc = H.esc

local function oct(s) return tonumber(s, 8) end

-- A minimal ustar writer, for what GNU tar will not write (a pax path
-- record in UTF-8). entries: {name, type, data, linkname, pax = {...}}.
local function ustar(entries)
  local function field(s, width) return s .. ("\0"):rep(width - #s) end
  local function num(n, width) return ("%0" .. (width - 1) .. "o"):format(n) .. "\0" end
  local function header(name, typ, size, link)
    local h = table.concat({ field(name, 100), num(oct("644"), 8), num(0, 8), num(0, 8), num(size, 12),
      num(0, 12), "        ", typ, field(link or "", 100), "ustar\0", "00", field("", 32), field("", 32),
      num(0, 8), num(0, 8), field("", 155), field("", 12) })
    local sum = 0
    for i = 1, #h do sum = sum + h:byte(i) end
    return h:sub(1, 148) .. ("%06o\0 "):format(sum) .. h:sub(157)
  end
  local function padded(s) return s .. ("\0"):rep((512 - #s % 512) % 512) end
  local out = {}
  for _, e in ipairs(entries) do
    if e.pax then
      local recs = {}
      for _, kv in ipairs(e.pax) do
        local n = #kv + 2
        local len = n + #tostring(n)
        if #tostring(len) > #tostring(n) then len = n + #tostring(len) end
        recs[#recs + 1] = ("%d %s\n"):format(len, kv)
      end
      local body = table.concat(recs)
      out[#out + 1] = header("PaxHeader", "x", #body) .. padded(body)
    end
    local data = e.data or ""
    out[#out + 1] = header(e.name, e.type or "0", #data, e.linkname) .. padded(data)
  end
  out[#out + 1] = ("\0"):rep(1024)
  return table.concat(out)
end

describe("ns.archive", function()
  -- Before H.guard(): the temp dir is made before its snapshot.
  local d
  before_each(function() d = H.tmpdir("archive") end)
  after_each(function() H.rmrf(d) end)
  H.guard()

  -- Run shell commands in d, set -e; returns their output, raising on
  -- failure.
  local function sh(cmd)
    local out, code = H.sh("cd " .. d .. " && { set -e; " .. cmd .. "\n} 2>.stderr")
    assert(code == 0, "shell failed: " .. cmd .. "\n" .. out .. (ns.readfile(d .. "/.stderr") or ""))
    os.remove(d .. "/.stderr")
    return out
  end

  local function sha(cmd) return (sh(cmd .. " | sha256sum"):match("^(%x+)")) end

  local function size(path) return tonumber((sh("stat -c %s " .. path))) end

  local function xattr(path, name)
    local out, code = H.sh(("getfattr -h --only-values -n %s %s 2>/dev/null"):format(name, path))
    return code == 0 and out or nil
  end

  -- A new empty directory d/name.
  local function dir(name)
    assert(ns.mkdir(d .. "/" .. name))
    return d .. "/" .. name
  end

  local function umask()
    return ns.readfile("/proc/self/status"):match("Umask:%s*(%d+)")
  end

  -- What is under d/outside, with modes and times: what no hostile
  -- archive may change.
  local function outside()
    return sh("find outside -printf '%p %m %T@ %s\\n' | sort")
  end

  -- d/src: every entry type a layer holds.
  local function tree()
    sh([[
      mkdir -p src/d/sub src/empty
      echo hello >src/d/f
      ln src/d/f src/d/hard
      ln -s f src/d/link
      ln -s /nowhere/abs src/d/abslink
      mkfifo src/d/fifo
      mknod src/d/chr c 1 3
      printf 'setuid' >src/d/suid; chmod 4755 src/d/suid
      echo own >src/d/own; chown 1234:5678 src/d/own
      head -c 300000 /dev/urandom >src/d/sub/big
      setfattr -n user.x -v val src/d/f
      chmod 0750 src/d/sub
      touch -h -d '2001-02-03 04:05:06' src/d/f src/d/link src/d/sub/big
      touch -d '2002-03-04 05:06:07' src/d/sub src/d
    ]])
  end

  -- Check that root (a dest) holds tree()'s entries as tree() made them.
  local function check_tree(root)
    local f = assert(ns.stat(root .. "/d/f", "nofollow"))
    assert.are.equal("hello\n", ns.readfile(root .. "/d/f"))
    assert.are.equal(oct("644"), f.mode)
    assert.are.equal(os.time({ year = 2001, month = 2, day = 3, hour = 4, min = 5, sec = 6 })
      - os.time({ year = 1970, month = 1, day = 1, hour = 0 }), f.mtime)
    local hard = assert(ns.stat(root .. "/d/hard"))
    assert.are.equal(f.ino, hard.ino)
    assert.are.equal(2, hard.nlink)
    assert.are.equal("f", ns.readlink(root .. "/d/link"))
    assert.are.equal("/nowhere/abs", ns.readlink(root .. "/d/abslink"))
    assert.are.equal("fifo", ns.stat(root .. "/d/fifo").type)
    local chr = ns.stat(root .. "/d/chr")
    assert.are.same({ "chr", 1, 3 }, { chr.type, chr.rdev_major, chr.rdev_minor })
    assert.are.equal(oct("4755"), ns.stat(root .. "/d/suid").mode)
    local own = ns.stat(root .. "/d/own")
    assert.are.same({ 1234, 5678 }, { own.uid, own.gid })
    assert.are.equal(sha("cat src/d/sub/big"), sha("cat " .. root .. "/d/sub/big"))
    assert.are.equal(oct("750"), ns.stat(root .. "/d/sub").mode)
    assert.are.equal(ns.stat(d .. "/src/d/sub").mtime, ns.stat(root .. "/d/sub").mtime)
    assert.are.equal(ns.stat(d .. "/src/d").mtime, ns.stat(root .. "/d").mtime)
    assert.are.equal("val", xattr(root .. "/d/f", "user.x"))
    assert.are.equal("dir", ns.stat(root .. "/empty").type)
  end

  it("does not touch the global table", function()
    assert.is_table(H.assert_no_new_globals("ns.archive"))
  end)

  describe("unpack()", function()
    it("extracts GNU tar's gzip, zstd and plain tars, every entry type as the tar says", function()
      tree()
      sh([[
        tar --xattrs --xattrs-include='*' -cpf t.tar -C src .
        gzip -k t.tar
        zstd -q -k t.tar
      ]])
      local diff_id, tarsize = sha("cat t.tar"), size(d .. "/t.tar")
      local entries = tonumber(sh("tar -tf t.tar | wc -l"))
      for file, filter in pairs({ ["t.tar"] = "none", ["t.tar.gz"] = "gzip", ["t.tar.zst"] = "zstd" }) do
        local dest = dir("dest-" .. filter)
        local r, err = A.unpack(d .. "/" .. file, dest)
        assert(r, err)
        assert.are.same({
          digest = sha("cat " .. file), diff_id = diff_id, bytes = size(d .. "/" .. file), size = tarsize,
          entries = entries, filter = filter,
        }, r)
        check_tree(dest)
      end
    end)

    it("detects xz and bzip2 too", function()
      sh("mkdir -p src && echo x >src/x && tar -cJf t.tar.xz -C src x && tar -cjf t.tar.bz2 -C src x")
      for file, filter in pairs({ ["t.tar.xz"] = "xz", ["t.tar.bz2"] = "bzip2" }) do
        local dest = dir("dest-" .. filter)
        local r = assert(A.unpack(d .. "/" .. file, dest))
        assert.are.equal(filter, r.filter)
        assert.are.equal(sha("cat " .. file), r.digest)
        assert.are.equal(sha((filter == "xz" and "xz" or "bzip2") .. " -dc " .. file), r.diff_id)
        assert.are.equal("x\n", ns.readfile(dest .. "/x"))
      end
    end)

    it("digests the whole of both streams, what follows the tar's end included", function()
      sh([[
        mkdir src && echo x >src/x
        tar -cf t.tar -C src x && head -c 4096 /dev/zero >>t.tar
        gzip -k t.tar
      ]])
      for _, file in ipairs({ "t.tar", "t.tar.gz" }) do
        local r = assert(A.unpack(d .. "/" .. file, dir("dest-" .. file)))
        assert.are.equal(sha("cat " .. file), r.digest)
        assert.are.equal(sha("cat t.tar"), r.diff_id)
        assert.are.equal(size(d .. "/t.tar"), r.size)
      end
    end)

    it("reads an fd (a handle or a number) from its offset, and leaves it open", function()
      sh("mkdir src && echo x >src/x && tar -czf t.tgz -C src x && { printf 'junk'; cat t.tgz; } >off.tgz")
      local h <close> = assert(ns.open(d .. "/off.tgz"))
      assert.are.equal("junk", h:read(4))
      local r = assert(A.unpack(h, dir("a")))
      assert.are.equal(sha("cat t.tgz"), r.digest)
      assert.are.equal(size(d .. "/t.tgz"), r.bytes)
      assert.are.equal("", h:read())
      local g <close> = assert(ns.open(d .. "/t.tgz"))
      r = assert(A.unpack(g:fileno(), dir("b")))
      assert.are.equal("x\n", ns.readfile(d .. "/b/x"))
      local dirfd <close> = assert(ns.open(d, "directory"))
      local msg = H.fails_with(ns.E.EISDIR, A.unpack(dirfd, dir("c")))
      assert.matches("^unpack fd %d+: read: .+ %(EISDIR%)$", msg)
    end)

    it("takes an empty blob as an empty layer", function()
      assert(ns.writefile(d .. "/empty", "", { create = true }))
      local r = assert(A.unpack(d .. "/empty", dir("dest")))
      assert.are.same({ digest = sha("cat empty"), diff_id = sha("cat empty"), bytes = 0, size = 0, entries = 0,
        filter = "none" }, r)
    end)

    it("keeps owners and xattrs out when told", function()
      tree()
      sh("tar --xattrs -cpzf t.tgz -C src .")
      local dest = dir("dest")
      assert(A.unpack(d .. "/t.tgz", dest, { owners = false, xattrs = false }))
      local own = ns.stat(dest .. "/d/own")
      assert.are.same({ 0, 0 }, { own.uid, own.gid })
      assert.is_nil(xattr(dest .. "/d/f", "user.x"))
    end)

    it("refuses an owner past max_uid or max_gid, naming the entry and the id, before writing it", function()
      sh([[
        mkdir -p src/d; echo a >src/d/ok; echo b >src/d/big
        chown 7:7 src/d/ok; chown 11:3 src/d/big
        tar --numeric-owner -cf u.tar -C src ./d/ok ./d/big
        chown 3:12 src/d/big; tar --numeric-owner -cf g.tar -C src ./d/ok ./d/big
      ]])
      local dest = dir("dest")
      H.fails_with(ns.E.EOVERFLOW, A.unpack(d .. "/u.tar", dest, { max_uid = 10, max_gid = 10 }))
      local _, msg = A.unpack(d .. "/u.tar", dir("dest2"), { max_uid = 10, max_gid = 10 })
      assert.matches('entry "%./d/big": uid 11 is not mapped %(only uids 0%-10 are%)', msg)
      assert.are.equal(7, ns.stat(dest .. "/d/ok").uid)
      assert.is_nil(ns.stat(dest .. "/d/big"))
      _, msg = A.unpack(d .. "/g.tar", dir("dest3"), { max_uid = 10, max_gid = 10 })
      assert.matches('entry "%./d/big": gid 12 is not mapped %(only gids 0%-10 are%)', msg)
      -- without owners, ids are not kept, so none is refused
      assert(A.unpack(d .. "/u.tar", dir("dest4"), { max_uid = 10, owners = false }))
    end)

    it("leaves out a tar's overlayfs xattrs with whiteouts (the marker's namespace), others kept", function()
      sh([[
        mkdir -p src/d; echo a >src/d/f
        setfattr -n user.overlay.redirect -v /elsewhere src/d
        setfattr -n user.overlay.opaque -v y src/d
        setfattr -n user.keep -v k src/d
        tar --xattrs --xattrs-include='*' -cf x.tar -C src .
      ]])
      local dest = dir("dest")
      assert(A.unpack(d .. "/x.tar", dest, { whiteouts = true, opaque_xattr = "user.overlay.opaque" }))
      assert.is_nil(xattr(dest .. "/d", "user.overlay.redirect"))
      assert.is_nil(xattr(dest .. "/d", "user.overlay.opaque"))
      assert.are.equal("k", xattr(dest .. "/d", "user.keep"))
      -- without whiteouts the tar is a tar: every xattr as it says
      local plain = dir("plain")
      assert(A.unpack(d .. "/x.tar", plain, { opaque_xattr = "user.overlay.opaque" }))
      assert.are.equal("/elsewhere", xattr(plain .. "/d", "user.overlay.redirect"))
    end)

    it("reads a pax path record in UTF-8", function()
      local name = "d/\u{fc}n\u{ef}-\u{65e5}\u{672c}"
      assert(ns.writefile(d .. "/u.tar", ustar({ { name = "d", type = "5" },
        { name = "placeholder", data = "utf8\n", pax = { "path=" .. name } } }), { create = true }))
      local dest = dir("dest")
      assert(A.unpack(d .. "/u.tar", dest))
      assert.are.equal("utf8\n", ns.readfile(dest .. "/" .. name))
    end)

    describe("whiteouts", function()
      -- One archive: a/gone (a tree) and b/opq/keep, then their whiteouts.
      local function layer()
        sh([[
          mkdir -p one/a/gone/deep one/b two/a two/b/opq two/c/d
          echo k >one/a/keep; echo g >one/a/gone/deep/f; echo f >one/a/file
          touch two/a/.wh.gone two/a/.wh.file two/a/.wh.never two/b/opq/.wh..wh..opq two/.wh..wh.plnk.1
          touch two/c/d/.wh..wh..opq
          tar -cf wo.tar -C one .
          tar -rf wo.tar -C two ./a/.wh.gone ./a/.wh.file ./a/.wh.never ./b/opq/.wh..wh..opq ./.wh..wh.plnk.1 \
            ./c/d/.wh..wh..opq
        ]])
      end

      local function is_whiteout(path)
        local st = ns.stat(path, "nofollow")
        return st and st.type == "chr" and st.rdev_major == 0 and st.rdev_minor == 0
      end

      it("become overlayfs' 0/0 devices and opaque xattrs, and are never written", function()
        layer()
        local dest = dir("dest")
        local r = assert(A.unpack(d .. "/wo.tar", dest, { whiteouts = true }))
        assert.are.equal(tonumber(sh("tar -tf wo.tar | wc -l")), r.entries)
        assert.is_true(is_whiteout(dest .. "/a/gone"))
        assert.is_true(is_whiteout(dest .. "/a/file"))
        assert.is_true(is_whiteout(dest .. "/a/never"))
        assert.are.equal("k\n", ns.readfile(dest .. "/a/keep"))
        assert.are.equal("y", xattr(dest .. "/b/opq", "trusted.overlay.opaque"))
        assert.are.equal("y", xattr(dest .. "/c/d", "trusted.overlay.opaque"))
        assert.are.equal(oct("755"), ns.stat(dest .. "/c/d").mode)
        assert.are.same({ "a", "b", "c" }, H.sorted(ns.listdir(dest)))
        assert.are.same({ "file", "gone", "keep", "never" }, H.sorted(ns.listdir(dest .. "/a")))
        assert.are.same({}, ns.listdir(dest .. "/b/opq"))
      end)

      it("take another opaque xattr name", function()
        layer()
        local dest = dir("dest")
        assert(A.unpack(d .. "/wo.tar", dest, { whiteouts = true, opaque_xattr = "user.overlay.opaque" }))
        assert.are.equal("y", xattr(dest .. "/b/opq", "user.overlay.opaque"))
        assert.is_nil(xattr(dest .. "/b/opq", "trusted.overlay.opaque"))
      end)

      it("are plain files without the option", function()
        layer()
        local dest = dir("dest")
        assert(A.unpack(d .. "/wo.tar", dest))
        assert.are.equal("file", ns.stat(dest .. "/a/.wh.gone").type)
        assert.are.equal("dir", ns.stat(dest .. "/a/gone").type)
        assert.are.equal("file", ns.stat(dest .. "/b/opq/.wh..wh..opq").type)
      end)
    end)

    describe("refuses hostile archives, writing nothing outside dest", function()
      local before
      before_each(function()
        sh([[
          mkdir -p outside f
          echo secret >outside/secret
          echo data >f/f
          ln f/f f/hl
        ]])
        before = outside()
      end)

      -- unpack file into a new dest; returns the message and errno.
      local n = 0
      local function refused(file, opts, dest)
        n = n + 1
        local r, msg, errno = A.unpack(d .. "/" .. file, dest or dir("dest" .. n), opts)
        assert.is_nil(r, "unpacked " .. file)
        assert.is_string(msg)
        assert.are.equal(before, outside())
        return msg, errno
      end

      it("an absolute path", function()
        sh("tar -P --transform 's,^,'$PWD'/outside/,' -cf abs.tar -C f f")
        local msg, errno = refused("abs.tar")
        assert.matches('^unpack ' .. esc(d) .. '/abs%.tar: entry "' .. esc(d) .. '/outside/f": absolute path$', msg)
        assert.are.equal(ns.E.EXDEV, errno)
      end)

      it("a .. path", function()
        sh("tar -P --transform 's,^,../,' -cf dd.tar -C f f")
        local msg, errno = refused("dd.tar")
        assert.matches('^unpack .*/dd%.tar: entry "%.%./f": path escapes the directory$', msg)
        assert.are.equal(ns.E.EXDEV, errno)
        sh("tar -P --transform 's,^,a/../../,' -cf dd2.tar -C f f")
        assert.matches('entry "a/%.%./%.%./f": path escapes', (refused("dd2.tar")))
      end)

      it("a file through a symlink the archive made", function()
        sh([[
          mkdir -p s1 s2/l && ln -s "$PWD/outside" s1/l && echo x >s2/l/x
          tar -cf sym.tar -C s1 l && tar -rf sym.tar -C s2 l/x
          ln -s ../outside s1/rel && mkdir -p s2/rel/sub && echo y >s2/rel/sub/y
          tar -cf rel.tar -C s1 rel && tar -rf rel.tar -C s2 rel/sub/y
        ]])
        local msg, errno = refused("sym.tar")
        assert.matches('^unpack .*/sym%.tar: entry "l/x": through symlink "l"$', msg)
        assert.are.equal(ns.E.ELOOP, errno)
        assert.matches('entry "rel/sub/y": through symlink "rel"$', (refused("rel.tar")))
      end)

      it("a file through a symlink that was in dest", function()
        sh("mkdir -p s2/l && echo x >s2/l/x && tar -cf x.tar -C s2 l/x")
        local dest = dir("pre")
        assert(ns.symlink(d .. "/outside", dest .. "/l"))
        assert.matches('entry "l/x": through symlink "l"$', (refused("x.tar", nil, dest)))
      end)

      it("hard links to ../, to an absolute path, and through a symlink", function()
        sh([[
          tar -P --transform 's,^f$,../outside/secret,RS' -cf hdd.tar -C f f hl
          tar -P --transform "s,^f\$,$PWD/outside/secret,RS" -cf habs.tar -C f f hl
          mkdir s1 && ln -s "$PWD/outside" s1/l
          tar -cf hsym.tar -C s1 l && tar -P --transform 's,^f$,l/secret,RS' -rf hsym.tar -C f f hl
        ]])
        local msg, errno = refused("hdd.tar")
        assert.matches('entry "hl": hard link to "%.%./outside/secret": path escapes the directory$', msg)
        assert.are.equal(ns.E.EXDEV, errno)
        msg = refused("habs.tar")
        assert.matches('entry "hl": hard link to "' .. esc(d) .. '/outside/secret": absolute path$', msg)
        msg, errno = refused("hsym.tar")
        assert.matches('hard link of entry "hl": through symlink "l"$', msg)
        assert.are.equal(ns.E.ELOOP, errno)
        assert.are.equal(1, ns.stat(d .. "/outside/secret").nlink)
      end)

      it("whiteouts and opaque markers through a symlink", function()
        sh([[
          mkdir -p s1 s2/l/sub && ln -s "$PWD/outside" s1/l
          touch s2/l/.wh.secret s2/l/sub/.wh..wh..opq
          tar -cf wh.tar -C s1 l && tar -rf wh.tar -C s2 l/.wh.secret
          tar -cf opq.tar -C s1 l && tar -rf opq.tar -C s2 l/sub/.wh..wh..opq
        ]])
        local msg, errno = refused("wh.tar", { whiteouts = true })
        assert.matches('entry "l/%.wh%.secret": through symlink "l"$', msg)
        assert.are.equal(ns.E.ELOOP, errno)
        assert.matches('entry "l/sub/%.wh%.%.wh%.%.opq": through symlink "l"$',
          (refused("opq.tar", { whiteouts = true })))
        assert.are.equal("secret\n", ns.readfile(d .. "/outside/secret"))
      end)

      it("the top directory as a non-directory", function()
        assert(ns.writefile(d .. "/dot.tar", ustar({ { name = ".", data = "x" } }), { create = true }))
        assert.matches('entry "%.": the directory itself, as a non%-directory$', (refused("dot.tar")))
        assert(ns.writefile(d .. "/dotlink.tar", ustar({ { name = "./", type = "2", linkname = "/" } }),
          { create = true }))
        assert.matches('entry "%./": the directory itself, as a non%-directory$', (refused("dotlink.tar")))
      end)

      it("a truncated gzip stream, and a tar cut in a file's data", function()
        sh([[
          mkdir big && head -c 200000 /dev/urandom >big/b
          tar -czf big.tgz -C big b && head -c 100000 big.tgz >cut.tgz
          tar -cf big.tar -C big b && head -c 100000 big.tar >cut.tar
        ]])
        local msg, errno = refused("cut.tgz")
        assert.matches("^unpack .*/cut%.tgz: .*truncated", msg)
        assert.is_number(errno)
        msg = refused("cut.tar")
        assert.matches('^unpack .*/cut%.tar: entry "b": .*[Tt]runcated', msg)
      end)

      it("what is not a tar", function()
        sh("head -c 20000 /dev/urandom >junk && gzip -k junk")
        assert.matches("^unpack .*/junk: ", (refused("junk")))
        assert.matches("^unpack .*/junk%.gz: ", (refused("junk.gz")))
      end)

      it("nor follows a symlink that replaced a directory, when fixing its mode and time", function()
        sh([[
          mkdir -p fx1/x fx2 && chmod 0555 fx1/x && touch -d 2000-01-01 fx1/x
          ln -s "$PWD/outside" fx2/x
          tar -cf fx.tar -C fx1 x && tar -rf fx.tar -C fx2 x
        ]])
        local dest = dir("dest")
        assert(A.unpack(d .. "/fx.tar", dest))
        assert.are.equal(before, outside())
        assert.are.equal("link", ns.stat(dest .. "/x", "nofollow").type)
      end)
    end)

    it("leaves the caller's cwd and umask as they were, on success and on failure", function()
      sh("mkdir src && echo x >src/x && tar -czf ok.tgz -C src x && tar -P --transform 's,^,../,' -czf bad.tgz -C src x")
      local cwd, mask = ns.getcwd(), umask()
      assert(A.unpack(d .. "/ok.tgz", dir("a")))
      assert.are.same({ cwd, mask }, { ns.getcwd(), umask() })
      assert.is_nil(A.unpack(d .. "/bad.tgz", dir("b")))
      assert.are.same({ cwd, mask }, { ns.getcwd(), umask() })
      assert.is_nil(A.unpack(d .. "/ok.tgz", d .. "/missing"))
      assert.are.same({ cwd, mask }, { ns.getcwd(), umask() })
    end)

    it("fails with the contract's triple on a missing source or dest", function()
      sh("mkdir src && echo x >src/x && tar -cf t.tar -C src x")
      local msg = H.fails_with(ns.E.ENOENT, A.unpack(d .. "/none.tar", dir("a")))
      assert.matches("^unpack " .. esc(d) .. "/none%.tar: .+ %(ENOENT%)$", msg)
      msg = H.fails_with(ns.E.ENOENT, A.unpack(d .. "/t.tar", d .. "/missing"))
      assert.matches("dest " .. esc(d) .. "/missing: .+ %(ENOENT%)$", msg)
      H.fails_with(ns.E.ENOTDIR, A.unpack(d .. "/t.tar", d .. "/t.tar"))
    end)

    it("raises on misuse", function()
      assert.has_error(function() A.unpack(d .. "/x", d, { owner = true }) end)
      assert.has_error(function() A.unpack(d .. "/x", d, { whiteouts = "yes" }) end,
        "bad argument #3 to 'unpack' (option 'whiteouts': boolean expected, got string)")
      assert.has_error(function() A.unpack(d .. "/x", d, { opaque_xattr = "" }) end)
      assert.has_error(function() A.unpack(d .. "/x", d, { max_uid = -1 }) end,
        "bad argument #3 to 'unpack' (option 'max_uid': an id (an integer from 0) expected)")
      assert.has_error(function() A.unpack(d .. "/x", d, { max_gid = "10" }) end)
      assert.has_error(function() A.unpack({}, d) end)
      assert.has_error(function() A.unpack(d .. "/x") end)
    end)
  end)

  describe("pack()", function()
    it("writes a pax tar that GNU tar reads, relative, sorted, numeric owners, hard links kept", function()
      tree()
      for _, filter in ipairs({ "none", "gzip", "zstd" }) do
        local out = d .. "/p-" .. filter
        local r, err = A.pack(d .. "/src", out, filter ~= "none" and { filter = filter } or nil)
        assert(r, err)
        local cat = ({ none = "cat", gzip = "zcat", zstd = "zstd -dc" })[filter]
        assert.are.same({ digest = sha("cat " .. out), diff_id = sha(cat .. " " .. out), bytes = size(out),
          size = tonumber(sh(cat .. " " .. out .. " | wc -c")), entries = 12 }, r)
        assert.are.equal(oct("644"), ns.stat(out).mode)
      end
      local names = sh("tar -tf p-none")
      assert.are.equal(table.concat({ "d/", "d/abslink", "d/chr", "d/f", "d/fifo", "d/hard", "d/link", "d/own",
        "d/sub/", "d/sub/big", "d/suid", "empty/", "" }, "\n"), names)
      local list = sh("tar --numeric-owner -tvf p-none 2>/dev/null")
      assert.matches("\nhrw%-r%-%-r%-%- 0/0 +0 [^\n]* d/hard link to d/f\n", list)
      assert.matches("\n%-rw%-r%-%-r%-%- 1234/5678 [^\n]* d/own\n", list)
      assert.matches("\n%-rwsr%-xr%-x 0/0 [^\n]* d/suid\n", list)
      assert.matches("\ncrw%-r%-%-r%-%- 0/0 +1,3 [^\n]* d/chr\n", list)
      assert.matches("SCHILY%.xattr%.user%.x=val", ns.readfile(d .. "/p-none"))
      -- GNU tar extracts it as it was.
      sh("mkdir gnu && tar --xattrs --xattrs-include='*' -xpf p-none -C gnu 2>/dev/null")
      check_tree(d .. "/gnu")
    end)

    it("round-trips through unpack, with the same digests", function()
      tree()
      local p = assert(A.pack(d .. "/src", d .. "/p.tgz", { filter = "gzip" }))
      local dest = dir("dest")
      local u = assert(A.unpack(d .. "/p.tgz", dest))
      assert.are.same({ p.digest, p.diff_id, p.bytes, p.size, p.entries },
        { u.digest, u.diff_id, u.bytes, u.size, u.entries })
      check_tree(dest)
      -- Whole seconds: what pack keeps of a time.
      local function list(root)
        return sh("cd " .. root .. " && find . -mindepth 1 | sort | xargs stat -c '%n %F %a %u %g %s %N %h %Y %t:%T'")
      end
      assert.are.equal(list("src"), list("dest"))
      sh("diff -r --no-dereference -x fifo -x chr src dest")
    end)

    it("gives the same bytes for the same tree", function()
      tree()
      local a = assert(A.pack(d .. "/src", d .. "/a.tgz", { filter = "gzip" }))
      sh("cp -a src copy && sleep 1 && touch -d '2001-02-03 04:05:06' copy/d/f")
      local b = assert(A.pack(d .. "/src", d .. "/b.tgz", { filter = "gzip" }))
      sh("cmp a.tgz b.tgz")
      assert.are.equal(a.digest, b.digest)
    end)

    it("turns overlayfs' whiteouts and opaque dirs into OCI's with whiteouts", function()
      sh([[
        mkdir -p src/a src/o/in && mknod src/a/gone c 0 0 && echo k >src/a/keep && echo i >src/o/in/f
        setfattr -n trusted.overlay.opaque -v y src/o
        setfattr -n user.other -v z src/o
        setfattr -n trusted.overlay.origin -v 0x00fb src/a/keep
        setfattr -n trusted.overlay.impure -v y src/a
      ]])
      local r = assert(A.pack(d .. "/src", d .. "/oci.tar", { whiteouts = true }))
      assert.are.equal(7, r.entries)
      assert.are.equal("a/\na/.wh.gone\na/keep\no/\no/.wh..wh..opq\no/in/\no/in/f\n", sh("tar -tf oci.tar"))
      assert.matches("\n%-[^\n]* 0 [^\n]* a/%.wh%.gone\n", sh("tar -tvf oci.tar"))
      local raw = ns.readfile(d .. "/oci.tar")
      assert.is_nil(raw:find("overlay.opaque", 1, true))
      -- overlayfs' bookkeeping about this host's files stays out too.
      assert.is_nil(raw:find("trusted.overlay", 1, true))
      assert.truthy(raw:find("SCHILY.xattr.user.other=z", 1, true))
      local back = dir("back")
      assert(A.unpack(d .. "/oci.tar", back, { whiteouts = true }))
      local st = ns.stat(back .. "/a/gone")
      assert.are.same({ "chr", 0, 0 }, { st.type, st.rdev_major, st.rdev_minor })
      assert.are.equal("y", xattr(back .. "/o", "trusted.overlay.opaque"))
      local bare = assert(A.pack(d .. "/src", d .. "/bare.tar", { whiteouts = true, xattrs = false }))
      assert.are.equal(7, bare.entries)
      assert.is_nil(ns.readfile(d .. "/bare.tar"):find("SCHILY", 1, true))
      -- Without the option, the device is a device and the xattr an xattr.
      r = assert(A.pack(d .. "/src", d .. "/plain.tar"))
      assert.are.equal(6, r.entries)
      assert.matches("\nc[^\n]* a/gone\n", sh("tar -tvf plain.tar"))
      assert.truthy(ns.readfile(d .. "/plain.tar"):find("SCHILY.xattr.trusted.overlay.opaque=y", 1, true))
    end)

    it("never overwrites dest_path, and fails with the contract's triple", function()
      sh("mkdir src && echo x >src/x && echo keep >there")
      local msg = H.fails_with(ns.E.EEXIST, A.pack(d .. "/src", d .. "/there"))
      assert.matches("^pack " .. esc(d) .. "/src: open " .. esc(d) .. "/there: .+ %(EEXIST%)$", msg)
      assert.are.equal("keep\n", ns.readfile(d .. "/there"))
      H.fails_with(ns.E.ENOENT, A.pack(d .. "/none", d .. "/new"))
      H.fails_with(ns.E.ENOTDIR, A.pack(d .. "/there", d .. "/new"))
      assert.is_nil(ns.stat(d .. "/new"))
    end)

    it("removes the partial file when a write fails", function()
      sh("mkdir -p src small && head -c 2000000 /dev/urandom >src/big")
      H.in_child(function()
        assert(ns.mount(nil, "/", nil, { "rec", "private" }))
        assert(ns.mount("tmpfs", d .. "/small", "tmpfs", nil, "size=256k"))
        local r, msg, errno = A.pack(d .. "/src", d .. "/small/p.tar")
        assert(r == nil and errno == ns.E.ENOSPC, msg)
        assert(msg:match("No space left"), msg)
        assert(#ns.listdir(d .. "/small") == 0, "partial file left")
      end, { "mnt" })
    end)

    it("raises on misuse", function()
      assert.has_error(function() A.pack(d, d .. "/x", { filter = "xz" }) end,
        "bad argument #3 to 'pack' (option 'filter': invalid 'xz' (valid: gzip, none, zstd))")
      assert.has_error(function() A.pack(d, d .. "/x", { compress = "gzip" }) end)
      assert.has_error(function() A.pack(d) end)
      assert.is_nil(ns.stat(d .. "/x"))
    end)
  end)
end)
