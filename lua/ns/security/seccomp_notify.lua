--- ns.security.seccomp_notify: the supervisor's side of a profile's notify
-- handlers (seccomp = {notify = {mount = function(req) ... end}}). The
-- filter returns SECCOMP_RET_USER_NOTIF for those calls, the container's
-- process sends the listener to luactr at its start, and ns.supervise,
-- while it waits for the container, hands each notification to handle():
-- the handler gets
--
--   req = {pid, syscall = "mount", nr, arch, args = {a0 .. a5}, id,
--          path = the call's path argument, read from the caller's memory
--          (mount: target; with source and fstype too; rename, link,
--          symlink and the like: path2, the other one)}
--
-- and returns "allow" (the call goes on: SECCOMP_USER_NOTIF_FLAG_CONTINUE),
-- an errno name ("EPERM") or {errno = name or number} (it fails with
-- that), or {value = n} (it returns n, not having run). Anything else, or
-- an error, fails the call with EPERM and says why on stderr. What was
-- read from the caller's memory is checked to still be its call's
-- (SECCOMP_IOCTL_NOTIF_ID_VALID) before the handler sees it; but an
-- "allow" lets the kernel read that memory again, which another thread of
-- the caller may have changed meanwhile: a handler's "allow" is no
-- security decision on a pointer (seccomp_unotify(2)), its refusals are.
-- Loaded with the first notification; names are matched to numbers by
-- libseccomp then.
local ns = require "ns.core"
local launch = require "ns.launch"

local M = {}

local fmt = string.format

-- The string arguments of the calls that have them: field = argument
-- index (0-based). path is the one a handler reads first.
M.STRINGS = {
  mount = { source = 0, path = 1, target = 1, fstype = 2 },
  umount2 = { path = 0 },
  open = { path = 0 }, creat = { path = 0 }, openat = { path = 1 }, openat2 = { path = 1 },
  mkdir = { path = 0 }, mkdirat = { path = 1 }, rmdir = { path = 0 },
  unlink = { path = 0 }, unlinkat = { path = 1 },
  chdir = { path = 0 }, chroot = { path = 0 }, pivot_root = { path = 0, path2 = 1 },
  execve = { path = 0 }, execveat = { path = 1 },
  chmod = { path = 0 }, fchmodat = { path = 1 }, fchmodat2 = { path = 1 },
  chown = { path = 0 }, lchown = { path = 0 }, fchownat = { path = 1 },
  truncate = { path = 0 }, access = { path = 0 }, faccessat = { path = 1 }, faccessat2 = { path = 1 },
  stat = { path = 0 }, lstat = { path = 0 }, newfstatat = { path = 1 }, statx = { path = 1 },
  readlink = { path = 0 }, readlinkat = { path = 1 }, mknod = { path = 0 }, mknodat = { path = 1 },
  rename = { path = 0, path2 = 1 }, renameat = { path = 1, path2 = 3 }, renameat2 = { path = 1, path2 = 3 },
  link = { path = 0, path2 = 1 }, linkat = { path = 1, path2 = 3 },
  symlink = { path = 1, path2 = 0 }, symlinkat = { path = 2, path2 = 0 },
  utimensat = { path = 1 }, swapon = { path = 0 }, swapoff = { path = 0 }, acct = { path = 0 },
  setxattr = { path = 0 }, lsetxattr = { path = 0 }, getxattr = { path = 0 }, lgetxattr = { path = 0 },
}

-- AUDIT_ARCH_* of the architectures a filter covers (linux/audit.h); x32
-- is x86_64's, its numbers with bit 30 set.
local AUDIT = { x86_64 = 0xC000003E, x32 = 0xC000003E, x86 = 0x40000003, aarch64 = 0xC00000B7, arm = 0x40000028 }

local PAGE = 4096
local PATH_MAX = 4096

--- read_string(pid, addr [, max]) -> the NUL-ended string at addr in
-- pid's memory (at most max bytes, default PATH_MAX), read a page at a
-- time so that an unmapped page after it is never asked for; nil for a
-- NULL pointer or memory that cannot be read.
function M.read_string(pid, addr, max)
  if addr == 0 then return nil end
  max = max or PATH_MAX
  local parts, got = {}, 0
  while got < max do
    local at = addr + got
    local n = math.min(PAGE - at % PAGE, max - got)
    local s = ns.process_vm_readv(pid, at, n)
    if not s or s == "" then break end
    local z = s:find("\0", 1, true)
    if z then
      parts[#parts + 1] = s:sub(1, z - 1)
      return table.concat(parts)
    end
    parts[#parts + 1] = s
    got = got + #s
  end
  -- No NUL within max (or unreadable): not a path the kernel would take.
  return nil
end

-- arch -> nr -> name for h's notify names, from libseccomp.
local function names_of(h)
  local sc = h.c.seccomp
  if sc.by_nr then return sc.by_nr end
  local lib = require "ns.seccomp"
  local by = {}
  for arch, audit in pairs(AUDIT) do
    by[audit] = by[audit] or {}
    for _, name in ipairs(sc.notify) do
      local nr = lib.resolve(name, arch)
      if nr and nr >= 0 then by[audit][nr] = name end
    end
  end
  sc.by_nr = by
  return by
end

-- The answer to send for a handler's result r, or nil and why not.
local function answer(r)
  if r == "allow" then return { continue = true } end
  local e = type(r) == "table" and r.errno or (type(r) == "string" and r or nil)
  if e ~= nil then
    if math.type(e) == "integer" and e > 0 and e < 4096 then return { error = e } end
    local ok, n = pcall(function() return ns.E[e] end)
    if ok then return { error = n } end
    return nil, fmt("unknown errno %s", tostring(e))
  end
  if type(r) == "table" and math.type(r.value) == "integer" then return { val = r.value } end
  return nil, fmt("a handler returns \"allow\", an errno name, {errno = ...} or {value = n}, not %s", tostring(r))
end

--- handle(h [, fd]): receive one notification on fd (h.listener, or
-- the listener of a process exec'd into the container, whose filter is
-- the same) and answer it with the container's handler for its call.
-- Returns false when fd is no listener that can be read (to be dropped).
function M.handle(h, fd)
  fd = fd or h.listener
  local req, _, e = ns.seccomp_notif_recv(fd)
  -- ENOENT: the caller went away between the poll and the receive.
  if not req then return e == ns.E.ENOENT end
  local by = names_of(h)[req.arch] or {}
  local name = by[req.syscall]
  local fn = name and h.c.seccomp.handlers[name]
  req.nr, req.syscall = req.syscall, name
  local resp, why
  if fn then
    for field, i in pairs(M.STRINGS[name] or {}) do req[field] = M.read_string(req.pid, req.args[i + 1]) end
    -- What was read is this call's only if the call is still waiting:
    -- else the pid may be another process's now.
    if not ns.seccomp_notif_id_valid(fd, req.id) then return end
    local ok, r = pcall(fn, req)
    if ok then resp, why = answer(r) else why = tostring(r) end
  else
    why = fmt("no handler for syscall %d of arch 0x%x", req.nr, req.arch)
  end
  if not resp then
    io.stderr:write(fmt("luactr: %s: seccomp notify %s: %s\n", h.c.what, tostring(name or req.nr),
      launch.oneline(tostring(why))))
    resp = { error = ns.E.EPERM }
  end
  -- ENOENT: it went away meanwhile (killed, say); nothing to answer.
  ns.seccomp_notif_send(fd, req.id, resp)
  return true
end

return M
