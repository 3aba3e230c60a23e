--- luactr commit [-m MESSAGE] [-a AUTHOR] [--no-pause] CONTAINER NAME[:TAG]:
-- the container's upper layer (what it wrote, deleted and replaced on
-- top of its image) becomes a new layer over that image, with the
-- container's command, environment, working directory, user and labels
-- as the new image's config, filed in the store as NAME:TAG (ns.image's
-- commit). A running container is paused meanwhile, as docker commit
-- does, so that the layer is read whole.
local ctr = require "ns.cli.ctr"
local a = ctr.parse("commit", "Make an image of a container's changes: its upper layer on top of its image.", function(p)
  p:option("-m --message", "A message for the image's history.")
  p:option("-a --author", "The image's author.")
  p:flag("--no-pause", "Do not pause a running container while its layer is read.")
  p:argument("container", "A container (id, id prefix or name).")
  p:argument("name", "The new image: NAME[:TAG] (default tag latest).")
end, arg)
local s, why = ctr.find(a.container)
if not s then ctr.die("commit", why) end
local life = require "ns.lifecycle"
local ok, key = pcall(life.commit, s, a.name, { message = a.message, author = a.author, pause = not a.no_pause })
if not ok then ctr.die("commit", key) end
print(key)
