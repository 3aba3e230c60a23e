-- setup.lua: loaded by busted before the specs (see .busted). Puts the
-- tree's build/ and lua/ first on the search paths, so the specs test this
-- checkout and never an installed copy.
package.path = "lua/?.lua;lua/?/init.lua;spec/?.lua;" .. package.path
package.cpath = "build/?.so;" .. package.cpath
