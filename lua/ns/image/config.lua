--- ns.image.config: an image's config as the defaults of a container.
-- A recipe's image = "name:tag" gives the rootfs (the image's layers, top
-- first) and, for each field the recipe leaves out, the image's: Env (the
-- recipe's env overrides key by key), Entrypoint and Cmd (docker's rules,
-- below), WorkingDir, User (a name is looked up in the image's
-- /etc/passwd and /etc/group when the container starts), StopSignal and
-- Labels (merged, the recipe's winning).
local M = {}

local fmt = string.format

-- A list of strings from the image's JSON (cjson gives {} for [] and null
-- for nothing), or nil when absent.
local function strings(what, key, v)
  if v == nil or v == require("cjson").null then return nil end
  if type(v) ~= "table" then error(fmt("%s: its config's %s is not a list", what, key), 0) end
  local out = {}
  for i, s in ipairs(v) do
    if type(s) ~= "string" then error(fmt("%s: its config's %s[%d] is not a string", what, key, i), 0) end
    out[i] = s
  end
  return out
end

local function str(v)
  return type(v) == "string" and v ~= "" and v or nil
end

--- argv(entrypoint, cmd, args, own_entrypoint) -> the command, as docker
-- builds it: the entrypoint (the recipe's, else the image's) followed by
-- the recipe's args, else by the image's Cmd, unless the recipe gave an
-- entrypoint of its own (which drops the image's Cmd, as
-- docker run --entrypoint does; apply() counts an empty one as none, as
-- docker's merge of the two configs does for --entrypoint '').
function M.argv(entrypoint, cmd, args, own_entrypoint)
  local out = {}
  for _, s in ipairs(entrypoint or {}) do out[#out + 1] = s end
  local rest = args or ((not own_entrypoint) and cmd) or {}
  for _, s in ipairs(rest) do out[#out + 1] = s end
  return out
end

--- apply(what, c): fill the copy c of a recipe (which has c.image) from
-- the image; raises naming the container when the image is missing or
-- its config is unusable, or when the recipe also gives a rootfs.
function M.apply(what, c)
  if c.rootfs ~= nil and c.rootfs ~= true then
    error(what .. ": image and rootfs both give the root filesystem: keep one", 0)
  end
  local ok, img = pcall(require("ns.image").resolve, c.image)
  if not ok then error(what .. ": " .. tostring(img), 0) end
  local iw = "image " .. img.name
  local cfg = img.config
  c.rootfs = img.layers
  local own = c.entrypoint
  if type(own) == "string" then own = { own } end
  local ep = own or strings(iw, "Entrypoint", cfg.Entrypoint)
  -- An empty entrypoint drops the image's and keeps its Cmd.
  c.args = M.argv(ep, strings(iw, "Cmd", cfg.Cmd), c.args, own ~= nil and #own > 0)
  if #c.args == 0 then
    error(fmt("%s: %s has neither Entrypoint nor Cmd: give args", what, iw), 0)
  end
  c.entrypoint = nil
  local env = strings(iw, "Env", cfg.Env) or {}
  for i, kv in ipairs(env) do
    if not kv:match("^[^=]+=") then error(fmt("%s: %s: its config's Env[%d] %q is not KEY=VALUE", what, iw, i, kv), 0) end
  end
  c.image_env = env
  if c.cwd == nil and str(cfg.WorkingDir) then
    if cfg.WorkingDir:sub(1, 1) ~= "/" then
      error(fmt("%s: %s: its config's WorkingDir %q is not an absolute path", what, iw, cfg.WorkingDir), 0)
    end
    c.cwd = cfg.WorkingDir
  end
  if c.user == nil and str(cfg.User) then c.user = cfg.User end
  if c.stop_signal == nil and str(cfg.StopSignal) then c.stop_signal = cfg.StopSignal end
  local labels = {}
  if type(cfg.Labels) == "table" then
    for k, v in pairs(cfg.Labels) do if type(k) == "string" and type(v) == "string" then labels[k] = v end end
  end
  for k, v in pairs(c.labels or {}) do labels[k] = v end
  c.labels = labels
  c.image, c.image_id = img.key, img.id
end

return M
