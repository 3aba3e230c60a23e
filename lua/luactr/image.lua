--- luactr image COMMAND: the image store from the command line, thin over
-- ns.image: pull, import, save, ls, inspect, rm, prune. The arguments are
-- parsed by lua-argparse (Debian's lua-argparse).
local argparse = require "argparse"
local image = require "ns.image"

local fmt = string.format

local parser = argparse("luactr image", "Images in the store under $LUACTR_ROOT (default /var/lib/luactr).")
parser:command_target("command")
parser:require_command(true)

local pull = parser:command("pull", "Pull an image from a registry (OCI distribution API).")
pull:argument("reference", "NAME[:TAG] or NAME@sha256:DIGEST, e.g. 127.0.0.1:5000/busybox:1.")
pull:option("--insecure", "A registry that may be reached over plain HTTP (loopback ones always may)."):count("*")
pull:option("--creds", "USER:PASSWORD (else from containers-auth.json or ~/.docker/config.json).")
pull:flag("-q --quiet", "No progress line.")

local import = parser:command("import", "Import an OCI layout directory, an oci-archive or a docker-archive.")
import:argument("source", "A directory or an archive file.")
import:argument("name", "NAME:TAG to file it under (needed when the source names none)."):args("?")

local save = parser:command("save", "Write an image as an oci-archive (what podman load and skopeo read).")
save:argument("name", "The image.")
save:argument("file", "The archive to write (must not exist).")

local ls = parser:command("ls", "List the images.")
ls:flag("-q --quiet", "Only the ids.")
ls:option("--format", "table or json.", "table"):choices({ "table", "json" })

local inspect = parser:command("inspect", "Print an image's config as JSON.")
inspect:argument("name", "The image (name, name:tag or id prefix).")

local rm = parser:command("rm", "Remove images, and the layers no other image uses.")
rm:argument("name", "The images."):args("+")

parser:command("prune", "Remove the blobs and layers that no image uses.")

local args = parser:parse(arg)

local function human(n)
  n = tonumber(n) or 0
  for _, u in ipairs({ "B", "kB", "MB", "GB" }) do
    if n < 1000 or u == "GB" then return u == "B" and fmt("%d%s", n, u) or fmt("%.3g%s", n, u) end
    n = n / 1000
  end
end

-- "3 hours ago" for an RFC 3339 UTC time.
local function ago(t)
  local y, mo, d, h, mi, s = tostring(t):match("^(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)")
  if not y then return "?" end
  local utc = os.time({ year = y, month = mo, day = d, hour = h, min = mi, sec = s, isdst = false })
  local offset = os.time(os.date("!*t", utc)) - utc
  local secs = os.time() - (utc - offset)
  for _, u in ipairs({ { 86400 * 365, "year" }, { 86400 * 30, "month" }, { 86400 * 7, "week" }, { 86400, "day" },
    { 3600, "hour" }, { 60, "minute" } }) do
    if secs >= u[1] then
      local n = secs // u[1]
      return fmt("%d %s%s ago", n, u[2], n == 1 and "" or "s")
    end
  end
  return "just now"
end

local function run()
  local cmd = args.command
  if cmd == "pull" then
    local key = image.pull(args.reference, { insecure = args.insecure, creds = args.creds, quiet = args.quiet })
    print(key)
  elseif cmd == "import" then
    for _, key in ipairs(image.import(args.source, args.name)) do print(key) end
  elseif cmd == "save" then
    image.save(args.name, args.file)
  elseif cmd == "ls" then
    local list = image.list()
    if args.format == "json" then
      local out = {}
      for i, e in ipairs(list) do
        out[i] = { name = e.name, tag = e.tag, id = e.id, digest = e.manifest, size = e.size, created = e.created }
      end
      print(#out == 0 and "[]" or require("ns.image.store").json_encode(out))
    elseif args.quiet then
      for _, e in ipairs(list) do print(e.id:sub(8, 19)) end
    else
      local rows = { { "NAME", "TAG", "ID", "SIZE", "CREATED" } }
      for _, e in ipairs(list) do rows[#rows + 1] = { e.name, e.tag, e.id:sub(8, 19), human(e.size), ago(e.created) } end
      local w = {}
      for _, r in ipairs(rows) do for i, c in ipairs(r) do w[i] = math.max(w[i] or 0, #c) end end
      for _, r in ipairs(rows) do
        local line = {}
        for i, c in ipairs(r) do line[i] = i < #r and c .. (" "):rep(w[i] - #c) or c end
        print(table.concat(line, "   "))
      end
    end
  elseif cmd == "inspect" then
    print((image.inspect(args.name)))
  elseif cmd == "rm" then
    for _, n in ipairs(args.name) do
      local key, removed, kept = image.remove(n)
      print(fmt("removed %s (%d layers, %d blobs freed%s)", require("ns.image.ref").familiar(key), removed.layers,
        removed.blobs, #kept > 0 and fmt("; %d layers kept: a container uses them", #kept) or ""))
    end
  elseif cmd == "prune" then
    local removed, kept = image.prune()
    print(fmt("removed %d layers and %d blobs (%s)%s", removed.layers, removed.blobs, human(removed.bytes),
      #kept > 0 and fmt("; %d layers kept: a container uses them", #kept) or ""))
  end
end

local ok, err = pcall(run)
if not ok then
  io.stderr:write("luactr image ", args.command, ": ", tostring(err), "\n")
  os.exit(1)
end
