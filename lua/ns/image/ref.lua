--- ns.image.ref: image references as docker and the distribution spec
-- write them: [REGISTRY/]REPOSITORY[:TAG][@sha256:HEX]. A name without a
-- registry is Docker Hub's (docker.io), and a one-part repository there
-- is under library/ (busybox -> docker.io/library/busybox); a reference
-- with neither tag nor digest means :latest.
local M = {}

local fmt = string.format

local function fail(ref, why) error(fmt("image reference %q: %s", ref, why), 0) end

M.DEFAULT_REGISTRY = "docker.io"

-- A path component: lowercase alphanumerics, joined by one '.', one or
-- two '_' or any number of '-' (the distribution spec's grammar).
local function component_ok(c)
  if c == "" or not c:match("^[a-z0-9][a-z0-9._-]*$") or not c:match("[a-z0-9]$") then return false end
  for sep in c:gmatch("[._-]+") do
    if not (sep == "." or sep == "_" or sep == "__" or sep:match("^%-+$")) then return false end
  end
  return true
end

--- digest_ok(s) -> whether s is "sha256:" and 64 lowercase hex digits.
function M.digest_ok(s)
  return type(s) == "string" and s:match("^sha256:%x+$") ~= nil and #s == 71 and s == s:lower()
end

--- parse(ref) -> { registry, repository, tag, digest, name, key }: name is
-- registry/repository, key what the store files it under (name:tag, or
-- name@digest for a digest alone). Raises naming the reference and what
-- is wrong with it.
function M.parse(ref)
  if type(ref) ~= "string" then error("image reference: expected a string, got " .. type(ref), 0) end
  if ref == "" then fail(ref, "empty") end
  if ref:find("[%s%c]") then fail(ref, "has a space or control character") end
  local rest, digest = ref:match("^(.-)@(.*)$")
  rest = rest or ref
  if digest and not M.digest_ok(digest) then
    fail(ref, "the digest must be sha256: and 64 lowercase hex digits")
  end
  -- The tag is after the last ':' that no '/' follows.
  local tag
  local name_part, t = rest:match("^(.*):([^/]*)$")
  if name_part then rest, tag = name_part, t end
  if tag and not tag:match("^[%w_][%w_.-]*$") or tag and #tag > 128 then
    fail(ref, "bad tag " .. fmt("%q", tag) .. " (letters, digits, '_', '.', '-'; at most 128)")
  end
  local registry, path = rest:match("^([^/]+)/(.+)$")
  if not (registry and (registry:find("[.:]") or registry == "localhost")) then
    registry, path = M.DEFAULT_REGISTRY, rest
  end
  if registry == M.DEFAULT_REGISTRY and not path:find("/", 1, true) then path = "library/" .. path end
  if path == "" then fail(ref, "no repository") end
  for c in (path .. "/"):gmatch("([^/]*)/") do
    if not component_ok(c) then
      fail(ref, fmt("bad repository component %q (lowercase letters and digits, with '.', '_' or '-' between)", c))
    end
  end
  if #path > 255 then fail(ref, "the repository name is over 255 characters") end
  if not tag and not digest then tag = "latest" end
  local name = registry .. "/" .. path
  local key = tag and (name .. ":" .. tag) or (name .. "@" .. digest)
  return { registry = registry, repository = path, tag = tag, digest = digest, name = name, key = key }
end

--- familiar(key) -> the short form docker prints: docker.io/library/x:t
-- as x:t, docker.io/u/x:t as u/x:t, others as they are.
function M.familiar(key)
  local s = key:gsub("^docker%.io/library/([^/]+)$", "%1")
  if s == key then s = key:gsub("^docker%.io/", "") end
  return s
end

--- is_loopback(registry) -> whether the host part is 127.0.0.0/8, ::1 or
-- localhost (plain HTTP is allowed there without --insecure).
function M.is_loopback(registry)
  local host = registry:match("^%[(.-)%]") or registry:match("^([^:]+)")
  return host == "localhost" or host == "::1" or (host and host:match("^127%.%d+%.%d+%.%d+$") ~= nil) or false
end

return M
