-- The REPL (core/repl.c, values shown by luactr.runner.inspect): `luactr`
-- with no arguments on a terminal, driven through a private tmux server
-- (spec/support/tmux.lua), and `luactr -i` on piped input.
local H = require "support.helper"
local T = require "support.tmux"

-- The prompt as the screen shows it (see term:screen() for the space).
local PROMPT = "luactr>"

-- A terminal that runs luactr with no arguments, once its prompt is up;
-- the spec closes it in a finally. The shell around it says how it ended:
-- tmux 3.3a, under load, at times never reaps a pane's process, and so
-- never shows the pane as dead.
local function repl()
  local term = T.start(H.luactr .. '; echo "[luactr exited $?]"')
  term:wait_for(PROMPT)
  return term
end

-- The number of times plain text occurs in s.
local function count(s, text)
  local n, at = 0, 1
  while true do
    local i, j = s:find(text, at, true)
    if not i then return n end
    n, at = n + 1, j + 1
  end
end

-- Types line, presses Enter, and waits for the next prompt; returns what
-- is on the screen between the line and that prompt.
local function enter(term, line)
  local before = count(term:screen(), PROMPT)
  term:type(line)
  term:keys("Enter")
  local s = term:wait_for(PROMPT:rep(before + 1, ".-"))
  local start = select(2, s:find(PROMPT:rep(before, ".-")))
  return s:sub(start + 1):match("^.-\n(.-)" .. PROMPT)
end

describe("luactr's REPL on a terminal", function()
  H.guard()

  it("opens with no arguments, says how to leave, and Ctrl-D on an empty line leaves", function()
    local term = repl()
    finally(function() term:close() end)
    assert.matches("Ctrl-D", term:screen(), 1, true)
    term:keys("C-d")
    term:wait_for("%[luactr exited 0%]")
  end)

  it("prints the values of =expr and of a bare expression", function()
    local term = repl()
    finally(function() term:close() end)
    assert.are.equal("2\n", enter(term, "=1+1"))
    assert.matches("^42 +x\n$", enter(term, "6*7, 'x'")) -- a tab, on the screen
    assert.are.equal("true\n", enter(term, "ns.getpid() > 0"))
  end)

  it("reads an unfinished chunk on, with >> for the lines after the first", function()
    local term = repl()
    finally(function() term:close() end)
    term:type("function f()")
    term:keys("Enter")
    term:wait_for("\n>>\n")
    term:type("return 42")
    term:keys("Enter")
    term:wait_for("\n>> return 42\n>>\n")
    term:type("end")
    term:keys("Enter")
    term:wait_for("\n>> end\nluactr>\n")
    assert.are.equal("42\n", enter(term, "=f()"))
  end)

  it("prints a table as its contents, not its address", function()
    local term = repl()
    finally(function() term:close() end)
    assert.are.equal('{1, "two", x = {y = true}}\n', enter(term, '={1, "two", x = {y = true}}'))
  end)

  it("Ctrl-C interrupts a running chunk and comes back to the prompt", function()
    local term = repl()
    finally(function() term:close() end)
    term:type("while true do end")
    term:keys("Enter")
    term:wait_for("while true do end\n")
    term:keys("C-c")
    term:wait_for("interrupted!\nluactr>\n")
    assert.are.equal("3\n", enter(term, "=1+2"))
  end)

  it("Ctrl-C at the prompt drops the line and the chunk so far, and does not leave", function()
    local term = repl()
    finally(function() term:close() end)
    term:type("error('not run')")
    term:keys("C-c")
    term:wait_for("luactr> error%('not run'%)%^C\nluactr>\n")
    term:type("do")
    term:keys("Enter")
    term:wait_for("\n>>\n")
    term:keys("C-c")
    -- Back to the first prompt, not to another >>.
    term:wait_for("\n>> %^C\nluactr>\n")
    assert.are.equal("5\n", enter(term, "=5"))
    assert.not_matches("luactr: [^\n]*not run", term:screen())
  end)

  it("edits the line (Left, BSpace) and recalls the last one (Up)", function()
    local term = repl()
    finally(function() term:close() end)
    term:type("=10+5")
    term:keys("Left", "Left", "BSpace")
    term:keys("Enter")
    term:wait_for("luactr> =1%+5\n6\nluactr>\n")
    term:keys("Up")
    term:wait_for("luactr> =1%+5\n6\nluactr> =1%+5\n")
    term:keys("Enter")
    term:wait_for("luactr> =1%+5\n6\nluactr> =1%+5\n6\nluactr>\n")
  end)
end)

describe("luactr -i on piped input", function()
  H.guard()

  it("reads chunks over lines and =expr, as on a terminal", function()
    local out, code = H.run_luactr("-i", { input = "function f()\nreturn 42\nend\n=f()\n=1+1\n" })
    assert.are.equal(0, code, out)
    assert.are.equal("luactr> >> >> luactr> 42\nluactr> 2\nluactr> \n", out)
  end)

  it("reports an error and goes on", function()
    local out, code = H.run_luactr("-i", { input = "error('boom')\n=7\n" })
    assert.are.equal(0, code, out)
    assert.matches("boom", out, 1, true)
    assert.matches("luactr> 7\n", out, 1, true)
  end)

  it("shows tables: keys sorted, nested up to a depth, cycles marked, long ones cut", function()
    local input = table.concat({
      "={b = 1, a = 2, [4] = 'c', 10, 20}",
      "={1, {2, {3, {4, {5}}}}}",
      "t = {}; t.me = t; t.list = {t}",
      "=t",
      "=ns.E",
      "={['not id'] = 1, ['end'] = 2, [true] = 3, [1.5] = 4}",
      "='top-level strings as print shows them'",
      "",
    }, "\n")
    local out, code = H.run_luactr("-i", { input = input })
    assert.are.equal(0, code, out)
    local lines = {}
    for l in out:gsub("luactr> ", ""):gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.are.equal('{10, 20, [4] = "c", a = 2, b = 1}', lines[1])
    assert.are.equal("{1, {2, {3, {...}}}}", lines[2])
    assert.are.equal("{list = {<cycle>}, me = <cycle>}", lines[3])
    assert.matches("^{E2BIG = 7, EACCES = 13, .*, %.%.%. %(%d+ more%)}$", lines[4])
    assert.are.equal('{[1.5] = 4, ["end"] = 2, ["not id"] = 1, [true] = 3}', lines[5])
    assert.are.equal("top-level strings as print shows them", lines[6])
  end)
end)

describe("luactr --help", function()
  it("says that luactr with no arguments on a terminal opens the REPL", function()
    local out, code = H.run_luactr("--help")
    assert.are.equal(0, code)
    assert.matches("no arguments on a terminal", out, 1, true)
  end)
end)
