-- digest_spec.lua: ns.digest (core/digest.c): SHA-2 digests of strings,
-- streams and files, checked against known vectors and sha256sum; base64
-- round trips and invalid input.
local H = require "support.helper"
local ns = require "ns"
local D = require "ns.digest"

-- sha256sum's (or sha512sum's) hex of the file at path.
local function sum(path, tool)
  local out = H.sh((tool or "sha256sum") .. " " .. path)
  return out:match("^(%x+)")
end

describe("ns.digest", function()
  local d
  before_each(function() d = H.tmpdir("digest") end)
  after_each(function() H.rmrf(d) end)
  H.guard()

  it("does not touch the global table", function()
    assert.is_table(H.assert_no_new_globals("ns.digest"))
  end)

  describe("string()", function()
    it("gives the FIPS 180-2 vectors", function()
      assert.are.equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", D.string(""))
      assert.are.equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", D.string("abc"))
      assert.are.equal("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
        D.string("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))
      assert.are.equal("cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed"
        .. "8086072ba1e7cc2358baeca134c825a7", D.string("abc", "sha384"))
      assert.are.equal("ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
        .. "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f", D.string("abc", "sha512"))
    end)

    it("hashes bytes, NULs included", function()
      assert.are.equal(#D.string("a\0b"), 64)
      assert.are_not.equal(D.string("a\0b"), D.string("a"))
    end)

    it("raises on an unknown algorithm, listing the valid ones", function()
      local ok, err = pcall(D.string, "abc", "md5")
      assert.is_false(ok)
      assert.matches("invalid option 'md5' %(valid: sha256, sha384, sha512%)", err)
    end)
  end)

  describe("new()", function()
    it("digests what update fed it, piece by piece", function()
      local h = D.new()
      assert.are.equal(h, h:update("a"):update(""):update("bc"))
      assert.are.equal(D.string("abc"), h:hex())
      assert.are.equal(D.string("abc", "sha512"), D.new("sha512"):update("abc"):hex())
      local big = D.new()
      for _ = 1, 1000 do big:update(("x"):rep(1000)) end
      assert.are.equal(D.string(("x"):rep(1000000)), big:hex())
    end)

    it("raises once finished, and says so", function()
      local h = D.new("sha384")
      assert.matches("^digest sha384$", tostring(h))
      h:hex()
      assert.matches("^digest sha384 %(finished%)$", tostring(h))
      local ok, err = pcall(h.update, h, "x")
      assert.is_false(ok)
      assert.matches("digest already finished", err)
      ok, err = pcall(h.hex, h)
      assert.is_false(ok)
      assert.matches("digest already finished", err)
    end)

    it("raises on misuse", function()
      assert.has_error(function() D.new("sha1") end)
      assert.has_error(function() D.new():update({}) end)
    end)
  end)

  describe("file()", function()
    it("agrees with sha256sum and sha512sum, and counts the bytes", function()
      local p = d .. "/f"
      local f = assert(io.open(p, "wb"))
      for i = 1, 3000 do f:write(("%d\n"):format(i * 7919):rep(97)) end
      f:close()
      local hex, size = D.file(p)
      assert.are.equal(sum(p), hex)
      local g <close> = assert(io.open(p))
      assert.are.equal(g:seek("end"), size)
      assert.are.equal(sum(p, "sha512sum"), (D.file(p, "sha512")))
      assert(ns.writefile(d .. "/empty", "", { create = true }))
      hex, size = D.file(d .. "/empty")
      assert.are.equal(D.string(""), hex)
      assert.are.equal(0, size)
    end)

    it("reads an fd from its offset to its end and leaves it open", function()
      assert(ns.writefile(d .. "/f", "skip:the rest", { create = true }))
      local h <close> = assert(ns.open(d .. "/f"))
      assert.are.equal("skip:", h:read(5))
      local hex, size = D.file(h)
      assert.are.equal(D.string("the rest"), hex)
      assert.are.equal(8, size)
      assert.are.equal("", h:read())
      assert.are.same({ D.string(""), 0 }, { D.file(h:fileno()) })
    end)

    it("fails with the contract's triple", function()
      local msg = H.fails_with(ns.E.ENOENT, D.file(d .. "/missing"))
      assert.matches("^open " .. H.esc(d) .. "/missing: .+ %(ENOENT%)$", msg)
      msg = H.fails_with(ns.E.EISDIR, D.file(d))
      assert.matches("^read " .. H.esc(d) .. ": .+ %(EISDIR%)$", msg)
      local h = assert(ns.open(d, "path"))
      H.fails_with(ns.E.EBADF, D.file(h))
      h:close()
      assert.has_error(function() D.file(h) end, "bad argument #1 to 'file' (attempt to use a closed fd)")
      assert.has_error(function() D.file({}) end)
    end)
  end)

  describe("base64", function()
    it("encodes RFC 4648's vectors, padded, on one line", function()
      local vectors = { [""] = "", f = "Zg==", fo = "Zm8=", foo = "Zm9v", foob = "Zm9vYg==",
        fooba = "Zm9vYmE=", foobar = "Zm9vYmFy" }
      for plain, coded in pairs(vectors) do
        assert.are.equal(coded, D.base64_encode(plain))
        assert.are.equal(plain, D.base64_decode(coded))
      end
      assert.are.equal("dXNlcjpwYXNz", D.base64_encode("user:pass"))
      local long = D.base64_encode(("z"):rep(300))
      assert.is_nil(long:find("\n"))
      local out = H.sh("printf %s " .. long .. " | base64 -d")
      assert.are.equal(("z"):rep(300), out)
    end)

    it("round-trips every byte value", function()
      local all = {}
      for i = 0, 255 do all[#all + 1] = string.char(i) end
      all = table.concat(all)
      for cut = 0, 3 do
        local s = all:sub(1, #all - cut)
        assert.are.equal(s, D.base64_decode(D.base64_encode(s)))
      end
      assert.matches("[+/]", D.base64_encode(all))
    end)

    it("accepts missing padding", function()
      assert.are.equal("f", D.base64_decode("Zg"))
      assert.are.equal("fo", D.base64_decode("Zm8"))
      assert.are.equal("user:pass", D.base64_decode("dXNlcjpwYXNz"))
    end)

    it("refuses what is not base64", function()
      for _, bad in ipairs({ "Z", "Zg=", "Zg===", "Zm9v!", "Zm 9v", "Zm9v\n", "=Zm9", "Zh==", "-_-_" }) do
        local s, msg = D.base64_decode(bad)
        assert.is_nil(s, bad)
        assert.are.equal("base64: invalid input", msg)
      end
    end)
  end)
end)
