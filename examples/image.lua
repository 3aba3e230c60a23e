-- image.lua: a container from an image of the store. Its root is an
-- overlay of the image's layers (read-only, top first) under a private
-- upper layer, and the image's config gives the defaults: the command
-- (Entrypoint + Cmd), Env, WorkingDir, User. busybox:latest is luactr's
-- own image, made from Debian's busybox-static, so this needs no registry;
-- give another name (luactr image pull / import first) to run that one.
--   luactr examples/image.lua [NAME]
local image = require "ns.image"
local container = require "ns.container"

local name = arg[1] or "busybox"
local img = image.resolve(name)
print(("image %s: %d layer(s), id %s"):format(img.name, #img.layers, img.id:sub(8, 19)))
print("config: Cmd = " .. table.concat(img.config.Cmd or {}, " ") .. ", Env = " .. table.concat(img.config.Env or {}, " "))
-- The overlay's lower layers, as the kernel shows them inside.
local st = container.run{
  image = name,
  args = { "/bin/sh", "-c", "echo \"inside: $(grep -o 'lowerdir[^,]*' /proc/self/mountinfo | head -1 | cut -c1-60)...\"; echo PATH=$PATH" },
}
os.exit(st.status)
