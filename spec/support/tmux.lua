--- tmux.lua: a terminal for the specs that need one (the REPL, `make
-- run`): a private tmux server, on its own -L socket under a temp
-- TMUX_TMPDIR, that runs one shell command in a 120x30 pane. Keys go in
-- with send-keys, the screen comes out with capture-pane, and waits poll
-- the screen against a deadline. term:close() kills that server (and so
-- what runs in its pane) and removes the temp dir.
local H = require "support.helper"
local ns = H.ns

local T = {}
local Term = {}
Term.__index = Term

local count = 0

-- s as one word for the shell.
local function shquote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- Runs a tmux subcommand (its words, already quoted) on this server;
-- returns its output, raising when it fails.
function Term:tmux(words)
  local out, code = H.sh(("TMUX_TMPDIR=%s tmux -L %s %s 2>&1"):format(self.dir, self.socket, words))
  if code ~= 0 then error(("tmux %s: %s"):format(words, out), 2) end
  return out
end

--- T.start(cmd) -> term: cmd (a shell command) in the pane, from the
-- tree's root; the pane stays on after cmd ends, so its last screen can
-- still be read.
function T.start(cmd)
  if select(2, H.sh("command -v tmux >/dev/null")) ~= 0 then
    error("tmux is not installed (make deps-test installs it)", 2)
  end
  count = count + 1
  local self = setmetatable({ dir = H.tmpdir("tmux"), socket = ("luactr-spec-%d-%d"):format(ns.getpid(), count) }, Term)
  local conf = self.dir .. "/tmux.conf"
  assert(ns.writefile(conf, "set -g remain-on-exit on\nset -g history-limit 5000\n", { create = true }))
  local ok, err = pcall(self.tmux, self, ("-f %s new-session -d -s spec -x 120 -y 30 -c %s %s")
    :format(conf, shquote(H.root), shquote(cmd)))
  if not ok then
    H.rmrf(self.dir)
    error(err, 2)
  end
  return self
end

--- term:type(text): text as it is, each character a key.
function Term:type(text)
  self:tmux("send-keys -t spec -l " .. shquote(text))
end

--- term:keys(...): named keys (Enter, C-c, Up, Left, BSpace...).
function Term:keys(...)
  self:tmux("send-keys -t spec " .. table.concat({ ... }, " "))
end

--- term:screen() -> the pane's text, its scrollback included, wrapped
-- lines joined, and no line with spaces at its end (a prompt "> " at the
-- end of its line reads ">"): what readline redraws leaves some there.
function Term:screen()
  return (self:tmux("capture-pane -p -J -S - -t spec"):gsub(" +\n", "\n"))
end

--- term:wait_for(pattern [, seconds [, init]]) -> the screen once it
-- matches pattern (a Lua pattern, searched from byte init); raises with
-- the screen when seconds (default 10) pass first.
function Term:wait_for(pattern, seconds, init)
  local deadline = ns.clock() + (seconds or 10)
  while true do
    local s = self:screen()
    if s:find(pattern, init) then return s end
    if ns.clock() > deadline then
      error(("no %q on the screen after %ss:\n%s"):format(pattern, seconds or 10, s), 2)
    end
    ns.sleep(0.05)
  end
end

--- term:close(): kill the server and whatever its pane runs; remove the
-- temp dir. Safe to call twice.
function Term:close()
  if not self.dir then return end
  H.sh(("TMUX_TMPDIR=%s tmux -L %s kill-server 2>/dev/null"):format(self.dir, self.socket))
  -- The server removes its socket as it goes; wait for that.
  local sock = ("%s/tmux-%d/%s"):format(self.dir, ns.getuid(), self.socket)
  for _ = 1, 100 do
    if not ns.stat(sock) then break end
    ns.sleep(0.02)
  end
  H.rmrf(self.dir)
  self.dir = nil
end

return T
